import '../shared/domain/zod-locale';
import * as z from 'zod/mini';
import type { PendingApproval } from '../shared/adapters/approvals';
import { admittingEntry } from '../shared/domain/approvers';
import type { DecisionRecord } from '../shared/domain/decision';
import { decisionDigest, proofProblem } from '../shared/domain/identity-proof';
import { formatIssues } from '../shared/domain/issues';

/**
 * The approval function: the one way to approve or reject a plan. The caller's ARN is what STS answers for the
 * identity proof the caller signed (domain/identity-proof.ts), never a name in the request; it admits only the
 * principals of approval.approvers, records the round's decision once (append-only), and only then wakes the
 * waiting run with the stored task token. The state machine's CheckApproval state reads the record after the
 * wait: a run woken any other way stops there.
 */

export const decisionRequestSchema = z.strictObject({
  /** The waiting execution, by name or ARN (as the approval mail and `status` name it). */
  execution: z.string().check(z.minLength(1), z.maxLength(2048)),
  decision: z.enum(['approve', 'reject']),
  reason: z.string().check(
    z.refine((s) => s.trim().length > 0, 'a reason is required; it is kept with the deployment'),
    z.maxLength(500, 'is longer than 500 characters'),
  ),
  /** The digest the approver reviewed (optional): refused when the run now waits on another one. */
  planSha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters'))),
});
export type DecisionRequest = z.output<typeof decisionRequestSchema>;

/** What the CLI invokes the function with. */
export interface DecideEvent {
  readonly request?: unknown;
  /** The signed GetCallerIdentity headers (domain/identity-proof.ts). */
  readonly identity?: { readonly headers?: Record<string, string> };
}

export interface DecidePorts {
  /** Sends the proof to STS; resolves to the ARN STS verified, or rejects. */
  verifyCaller(headers: Record<string, string>): Promise<string>;
  latestPending(executionName: string): Promise<PendingApproval | null>;
  readDecision(executionName: string, round: string): Promise<DecisionRecord | null>;
  recordDecision(record: DecisionRecord): Promise<boolean>;
  sendSuccess(taskToken: string, output: string): Promise<void>;
  sendFailure(taskToken: string, error: string, cause: string): Promise<void>;
  now(): Date;
}

export interface DecideSettings {
  readonly gateway: string;
  readonly approvers: readonly string[];
}

export interface DecideResponse {
  readonly statusCode: number;
  readonly body: Record<string, unknown>;
}

/** Accepts an execution name or its ARN (`arn:aws:states:…:execution:<machine>:<name>`). */
export function executionNameOf(execution: string): string | null {
  const name = execution.startsWith('arn:') ? execution.slice(execution.lastIndexOf(':') + 1) : execution;
  return /^[A-Za-z0-9_-]{1,80}$/.test(name) ? name : null;
}

const refuse = (statusCode: number, error: string, message: string): DecideResponse => ({ statusCode, body: { error, message } });

export async function decide(event: DecideEvent, settings: DecideSettings, ports: DecidePorts): Promise<DecideResponse> {
  const parsed = decisionRequestSchema.safeParse(event.request);
  if (!parsed.success) return refuse(400, 'BadRequest', `the decision request is invalid:\n${formatIssues(parsed.error.issues)}`);
  const request = parsed.data;
  const executionName = executionNameOf(request.execution);
  if (!executionName) return refuse(400, 'BadRequest', `"${request.execution}" is not an execution name or ARN`);

  const problem = proofProblem(event.identity?.headers, decisionDigest(request), ports.now());
  if (problem) return refuse(401, 'IdentityNotVerified', `${problem}; nothing was recorded`);
  let callerArn: string;
  try {
    callerArn = await ports.verifyCaller(event.identity!.headers!);
  } catch (error) {
    if ((error as Error).name !== 'IdentityNotVerified') throw error;
    return refuse(401, 'IdentityNotVerified', `${(error as Error).message}; nothing was recorded`);
  }
  if (!admittingEntry(callerArn, settings.approvers)) {
    return refuse(403, 'NotAnApprover', `${callerArn} is not in approval.approvers of gateway ${settings.gateway}; nothing was recorded`);
  }
  const pending = await ports.latestPending(executionName);
  if (!pending) return refuse(404, 'NoApprovalRequested', `no approval was requested for execution ${executionName}`);
  if (request.planSha256 && request.planSha256 !== pending.planSha256) {
    return refuse(409, 'PlanChanged', `you reviewed sha256 ${request.planSha256}, but execution ${executionName} waits on sha256 ${pending.planSha256}; nothing was recorded`);
  }

  const status = request.decision === 'approve' ? 'approved' : 'rejected';
  const record: DecisionRecord = {
    executionName,
    round: pending.round,
    status,
    approverArn: callerArn,
    reason: request.reason.trim(),
    decidedAt: ports.now().toISOString(),
    planSha256: pending.planSha256,
  };
  const existing = await ports.readDecision(executionName, pending.round);
  // The same answer again (a delivery that failed, retried) is delivered again; any other answer is refused.
  const same = existing && existing.status === status && existing.approverArn === callerArn;
  if (existing && !same) {
    return refuse(409, 'AlreadyDecided', `execution ${executionName} was already ${existing.status} by ${existing.approverArn} at ${existing.decidedAt}: ${existing.reason}`);
  }
  if (!existing && !(await ports.recordDecision(record))) {
    return refuse(409, 'AlreadyDecided', `execution ${executionName} was decided by someone else a moment ago; nothing was sent`);
  }
  const kept = existing ?? record;

  try {
    if (status === 'approved') await ports.sendSuccess(pending.taskToken, JSON.stringify({ round: kept.round }));
    else await ports.sendFailure(pending.taskToken, 'ApprovalRejected', `plan rejected by ${kept.approverArn}: ${kept.reason}`);
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') {
      return refuse(410, 'NotWaiting', `execution ${executionName} is no longer waiting (${name}): the approval timed out or the run ended; the decision stays recorded`);
    }
    throw error;
  }
  return {
    statusCode: 200,
    body: { executionName, gateway: pending.gateway, decision: request.decision, decidedBy: kept.approverArn, reason: kept.reason, round: kept.round, planSha256: kept.planSha256 },
  };
}
