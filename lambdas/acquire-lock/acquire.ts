import { DeploymentInProgress, decideOnHeldLock, type ExecutionStatus, type LockHolder } from '../shared/domain/lock';

/** AcquireLock: the first state of every run. Only reads and the one conditional write of the lock item. */

export interface AcquireLockEvent {
  readonly gateway: string;
  readonly executionArn: string;
  readonly startTime: string;
}

export interface LockPorts {
  put(holder: LockHolder, replacing?: string): Promise<boolean>;
  read(): Promise<LockHolder | null>;
  executionStatus(executionArn: string): Promise<ExecutionStatus>;
}

export interface LockResult {
  readonly acquiredAt: string;
  /** The execution whose stale lock this run took over, if any. */
  readonly tookOverFrom?: string;
  readonly tookOverBecause?: string;
}

export async function acquireLock(event: AcquireLockEvent, ports: LockPorts, now: () => Date): Promise<LockResult> {
  const me: LockHolder = { executionArn: event.executionArn, acquiredAt: now().toISOString() };
  // Two rounds: a holder can release (or another run take over) between our read and our write.
  for (let round = 0; round < 2; round++) {
    if (await ports.put(me)) return { acquiredAt: me.acquiredAt };
    const holder = await ports.read();
    if (!holder) continue;
    const decision = decideOnHeldLock(holder, await ports.executionStatus(holder.executionArn), me.executionArn);
    if (decision.action === 'refuse') throw new DeploymentInProgress(decision.message);
    if (await ports.put(me, holder.executionArn)) return { acquiredAt: me.acquiredAt, tookOverFrom: holder.executionArn, tookOverBecause: decision.reason };
  }
  const holder = await ports.read();
  throw new DeploymentInProgress(`deployment in progress: ${holder?.executionArn ?? 'another execution'} (the lock changed hands while this run tried to take it)`);
}
