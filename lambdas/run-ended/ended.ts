import { reportFailure, type NotifyPorts, type NotifySettings } from '../notify/notify';
import { REDRIVE_NOTE, deployerLockNote, endError, handledByTheRun, type ExecutionEnd, type LastState, type TerraformLockInfo } from '../shared/domain/run-end';

/** RunEnded: an execution that timed out, was stopped, or failed outside its own catch (domain/run-end.ts). */

export interface RunEndedEvent {
  readonly detail: ExecutionEnd;
}

export interface RunEndedPorts extends NotifyPorts {
  /** The last state the execution entered, with its input; null when the history cannot be read. */
  lastState(executionArn: string): Promise<LastState | null>;
  /** Deletes the lock item if this execution holds it; false when it does not. */
  releaseLock(executionArn: string): Promise<boolean>;
  /** Terraform's state lock (S3 lock file or DynamoDB lock item), if one is held. */
  terraformLock(): Promise<TerraformLockInfo | null>;
}

export interface RunEndedSettings extends NotifySettings {
  readonly gateway: string;
  readonly timeoutHours: number;
  readonly stateUrl: string;
  readonly projects: readonly string[];
}

export type RunEndedResult = { readonly action: 'none'; readonly reason: string } | { readonly action: 'reported'; readonly step: string; readonly notified: string[] };

export async function runEnded(event: RunEndedEvent, ports: RunEndedPorts, settings: RunEndedSettings): Promise<RunEndedResult> {
  const end = event.detail;
  // Best effort: without the history the run is still recorded and told, only with less detail.
  const last = await ports.lastState(end.executionArn).catch(() => null);
  if (handledByTheRun(end, last)) {
    // Its ReleaseLock ran, but may have failed (DynamoDB down after the retries: lockNotReleased). Deleting again is
    // conditional on this execution holding the lock, so it never frees a newer run's.
    const released = await ports.releaseLock(end.executionArn);
    return { action: 'none', reason: `the run ended through its own failure path, which notified and recorded it${released ? '; its lock, still held, was released' : ''}` };
  }

  const step = last?.name ?? 'an unknown step';
  const state = { ...(last?.state ?? {}), error: endError(end, step, settings.timeoutHours) };
  const released = await ports.releaseLock(end.executionArn);
  const notes = [deployerLockNote(released), REDRIVE_NOTE];
  const { notified } = await reportFailure(
    { kind: 'failure', gateway: settings.gateway, executionArn: end.executionArn, executionName: end.name, startTime: new Date(end.startDate).toISOString(), state },
    ports,
    settings,
    // runStopped: a Terraform build the run was in was killed with it, and its state lock is reported.
    { step, notes, runStopped: true },
  );
  return { action: 'reported', step, notified };
}
