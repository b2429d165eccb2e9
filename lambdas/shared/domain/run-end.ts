import type { RunState } from './run-state';

/**
 * Ends that no Catch of the state machine sees: the execution timed out, someone stopped it, or it failed outside
 * its own error handling (a runtime error in a Choice or a path, a failure in NotifyFailure or ReleaseLock itself).
 * An EventBridge rule on the state machine's status changes hands each of them to the RunEnded function, which does
 * what the failure path would have done: record the run, release the lock, tell operators, and report a Terraform
 * state lock the stopped build left behind, with the exact command to remove it (never removed silently).
 */

export type EndStatus = 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** The "Step Functions Execution Status Change" event's detail, the fields used. */
export interface ExecutionEnd {
  readonly executionArn: string;
  readonly name: string;
  readonly status: EndStatus;
  /** Epoch milliseconds. */
  readonly startDate: number;
  readonly stopDate?: number | null;
  readonly error?: string | null;
  readonly cause?: string | null;
}

/** The last state the execution entered and the data it entered with: how far the run got. */
export interface LastState {
  readonly name: string;
  readonly state: RunState;
}

/** Every path through the state machine's own failure handling ends here (after NotifyFailure and ReleaseLock). */
export const HANDLED_FAILURE_STATE = 'DeploymentFailed';

/** True when the run's own failure path already notified, recorded and released: nothing left to do. */
export function handledByTheRun(end: Pick<ExecutionEnd, 'status'>, last: LastState | null): boolean {
  return end.status === 'FAILED' && last?.name === HANDLED_FAILURE_STATE;
}

/** The run's error, as the failure notice and the history name it. */
export function endError(end: ExecutionEnd, step: string, timeoutHours: number): { readonly Error: string; readonly Cause: string } {
  if (end.status === 'TIMED_OUT') {
    return { Error: 'ExecutionTimedOut', Cause: `the run exceeded the state machine's timeout of ${timeoutHours} h while in ${step}` };
  }
  if (end.status === 'ABORTED') {
    return { Error: 'ExecutionAborted', Cause: `the execution was stopped (states:StopExecution) while in ${step}; CloudTrail names who stopped it` };
  }
  return { Error: end.error || 'States.Runtime', Cause: end.cause || `the run failed in ${step}, outside its own error handling` };
}

/** Terraform's LockInfo, as the S3 lock file (use_lockfile) or the DynamoDB lock item's Info holds it. */
export interface TerraformLockInfo {
  readonly ID: string;
  readonly Operation?: string;
  readonly Who?: string;
  readonly Created?: string;
  readonly Version?: string;
  readonly Path?: string;
}

/** Parses a LockInfo; null for anything that is not one (nothing is ever guessed into a force-unlock command). */
export function parseLockInfo(text: string | null | undefined): TerraformLockInfo | null {
  if (!text) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const o = parsed as Partial<TerraformLockInfo> | null;
  // Terraform's lock IDs are UUIDs; anything else is not put in a command an operator will paste.
  if (!o || typeof o.ID !== 'string' || !/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(o.ID)) return null;
  const pick = (k: keyof TerraformLockInfo) => (typeof o[k] === 'string' ? { [k]: o[k] } : {});
  return { ID: o.ID, ...pick('Operation'), ...pick('Who'), ...pick('Created'), ...pick('Version'), ...pick('Path') };
}

export interface StateLocation {
  /** s3://bucket/key of the Terraform state. */
  readonly stateUrl: string;
  /** s3:// folder of the run's rendered workspace (backend.tf.json is there), or null if the run never rendered one. */
  readonly workspaceUrl: string | null;
  /** The CodeBuild projects that run Terraform for this gateway. */
  readonly projects: readonly string[];
}

/** What operators read about a Terraform state lock left behind, and the exact way to remove it. */
export function terraformLockNotes(lock: TerraformLockInfo, where: StateLocation): string[] {
  const held = [lock.Operation?.replace(/^OperationType/, '').toLowerCase(), lock.Who && `by ${lock.Who}`, lock.Created && `since ${lock.Created}`].filter(Boolean).join(' ');
  return [
    `Terraform's state lock on ${where.stateUrl} is still held (ID ${lock.ID}${held ? `, ${held}` : ''}): the build was stopped before Terraform released it, and every later Plan will fail on it.`,
    'It was not removed. First make sure no build is running: ' + where.projects.map((p) => `aws codebuild list-builds-for-project --project-name ${p}`).join('; ') + ' (a build IN_PROGRESS still holds it).',
    where.workspaceUrl
      ? `Then remove it from a copy of the run's workspace: aws s3 cp --recursive ${where.workspaceUrl} ws && cd ws && terraform init -input=false && terraform force-unlock -force ${lock.ID}`
      : `Then remove it from a workspace with the same backend: terraform force-unlock -force ${lock.ID}`,
  ];
}

/** What operators read about the deployer's own lock. */
export function deployerLockNote(released: boolean): string {
  return released
    ? "The deployer's lock for this gateway was released: a new run can start."
    : "This run did not hold the deployer's lock any more (released already, or taken over by a newer run): nothing to release.";
}

export const REDRIVE_NOTE =
  'Start a new run rather than redriving this execution: a redriven execution resumes past AcquireLock, so its builds ' +
  "refuse to act unless it still holds the gateway's lock.";
