import { forgetToken, readApproval, recordDecision, revertDecision } from '../adapters/approvals';

/**
 * The operator's answer to a pending plan, as the CLI gives it. IAM decides who may answer (the caller needs
 * states:SendTaskSuccess/SendTaskFailure and access to the deployments table); this records who did and why,
 * once, and only then hands the answer to the waiting run.
 */

export type Decision = 'approve' | 'reject';

export interface DecisionPorts {
  /** The caller's ARN (STS GetCallerIdentity). */
  whoAmI(): Promise<string>;
  sendSuccess(taskToken: string, output: string): Promise<void>;
  sendFailure(taskToken: string, error: string, cause: string): Promise<void>;
  now(): Date;
}

export interface DecisionResult {
  readonly executionName: string;
  readonly gateway: string;
  readonly decision: Decision;
  readonly decidedBy: string;
  readonly reason: string;
}

export class ApprovalCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalCommandError';
  }
}

/** Accepts an execution name or its ARN (`arn:aws:states:…:execution:<machine>:<name>`). */
export function executionNameOf(execution: string): string {
  const name = execution.startsWith('arn:') ? execution.slice(execution.lastIndexOf(':') + 1) : execution;
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new ApprovalCommandError(`"${execution}" is not an execution name or ARN`);
  return name;
}

export async function decide(table: string, execution: string, decision: Decision, reason: string, ports: DecisionPorts): Promise<DecisionResult> {
  const why = reason.trim();
  if (!why) throw new ApprovalCommandError('a reason is required (--reason "…"); it is kept with the deployment');
  if (why.length > 500) throw new ApprovalCommandError('the reason is longer than 500 characters');
  const executionName = executionNameOf(execution);

  const pending = await readApproval(table, executionName);
  if (!pending) throw new ApprovalCommandError(`no approval was requested for execution ${executionName}`);
  if (pending.status !== 'pending') {
    throw new ApprovalCommandError(`execution ${executionName} was already ${pending.status} by ${pending.decidedBy} at ${pending.decidedAt}: ${pending.reason}`);
  }

  const decidedBy = await ports.whoAmI();
  const decidedAt = ports.now().toISOString();
  const status = decision === 'approve' ? 'approved' : 'rejected';
  if (!(await recordDecision(table, executionName, { status, decidedBy, reason: why, decidedAt }))) {
    throw new ApprovalCommandError(`execution ${executionName} was decided by someone else a moment ago; nothing was sent`);
  }
  try {
    if (decision === 'approve') {
      await ports.sendSuccess(pending.taskToken, JSON.stringify({ approved: true, decidedBy, reason: why, decidedAt }));
    } else {
      await ports.sendFailure(pending.taskToken, 'ApprovalRejected', `plan rejected by ${decidedBy}: ${why}`);
    }
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist') {
      await revertDecision(table, executionName, 'expired');
      throw new ApprovalCommandError(`execution ${executionName} is no longer waiting (${name}): the approval timed out or the run ended`);
    }
    // Not delivered: the decision is undone, so the same command can be run again.
    await revertDecision(table, executionName, 'pending');
    throw error;
  }
  await forgetToken(table, executionName);
  return { executionName, gateway: pending.gateway, decision, decidedBy, reason: why };
}
