import { readLock } from '../../lambdas/shared/adapters/lock-table';
import { lockLostMessage } from '../../lambdas/shared/domain/lock';

/** The run no longer holds the gateway's lock: the build stops before it touches the state or the cluster. */
export class LockLost extends Error {
  override name = 'LockLost';
}

/**
 * First thing every build does: check that its execution still holds the gateway's lock (domain/lock.ts,
 * lockLostMessage). Every project sets DEPLOYMENTS_TABLE and the state machine passes EXECUTION_ARN (a CDK test
 * asserts both); a helper run outside a project (unit and integration tests) has neither and skips the check.
 */
export async function confirmRunHoldsLock(env: NodeJS.ProcessEnv): Promise<void> {
  const table = env.DEPLOYMENTS_TABLE;
  if (!table) return;
  const self = env.EXECUTION_ARN;
  const gateway = env.GATEWAY;
  if (!self || !gateway) throw new LockLost('EXECUTION_ARN and GATEWAY must be set when DEPLOYMENTS_TABLE is (the state machine passes them)');
  const message = lockLostMessage(await readLock(table, gateway), self);
  if (message) throw new LockLost(message);
}
