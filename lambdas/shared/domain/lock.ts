import { DeploymentError } from './errors';

/**
 * One run per gateway. The lock item names the execution that holds it; a second run refuses while that
 * execution runs, and takes the lock over once it has stopped without releasing it (crashed, aborted, timed out).
 */

/** Another execution of the same gateway is running: this run stops before it has touched anything. */
export class DeploymentInProgress extends DeploymentError {}

export const LOCK_SORT_KEY = 'LOCK';

/** Step Functions execution statuses; `MISSING` when DescribeExecution does not know the ARN. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE' | 'MISSING';

export interface LockHolder {
  readonly executionArn: string;
  readonly acquiredAt: string;
}

export type LockDecision =
  | { readonly action: 'refuse'; readonly message: string }
  | { readonly action: 'take-over'; readonly reason: string };

/**
 * What to do about a lock held by another execution. Only RUNNING blocks: PENDING_REDRIVE is a failed run that
 * may be redriven later; a redriven run resumes past AcquireLock, so its builds check the lock themselves
 * (lockLostMessage) and refuse to act once another run holds it.
 */
export function decideOnHeldLock(holder: LockHolder, status: ExecutionStatus, self: string): LockDecision {
  if (holder.executionArn === self) return { action: 'take-over', reason: 'this execution already holds the lock (a retried AcquireLock)' };
  if (status === 'RUNNING') return { action: 'refuse', message: `deployment in progress: ${holder.executionArn} (running since ${holder.acquiredAt})` };
  const why = status === 'MISSING' ? 'is unknown to Step Functions' : `is ${status}`;
  return { action: 'take-over', reason: `the lock holder ${holder.executionArn} ${why} and never released the lock` };
}

/**
 * A build acts for its run only while the run holds the lock: null when `self` holds it, else why not. A redriven
 * execution (same ARN, resumed at the step that failed, past AcquireLock) or a stray build meets this.
 */
export function lockLostMessage(holder: LockHolder | null, self: string): string | null {
  if (holder?.executionArn === self) return null;
  const now = holder ? `another execution holds it: ${holder.executionArn} (since ${holder.acquiredAt})` : 'nobody holds it (it was released when this run ended)';
  return (
    `this execution does not hold the gateway's deployment lock; ${now}. A redriven execution resumes past AcquireLock and ` +
    'must not act beside another run: nothing was done. Start a new run instead of redriving this one.'
  );
}
