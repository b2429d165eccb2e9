import { decisionDigest } from '../domain/identity-proof';

/**
 * The operator's answer to a pending plan, as the CLI gives it: the stack's approval function invoked with the
 * decision and an identity proof (a GetCallerIdentity request signed with the operator's own credentials, bound to
 * this decision). STS tells the function who signed; the function admits only approval.approvers, records the
 * decision once and wakes the run. The CLI checks what it can first, so a typo costs no round trip.
 */

export type Decision = 'approve' | 'reject';

export interface DecisionPorts {
  /** The signed GetCallerIdentity headers for this decision digest. */
  signProof(digest: string): Promise<Record<string, string>>;
  /** Invokes the approval function; its answer (statusCode, body). */
  invoke(functionName: string, payload: object): Promise<{ statusCode: number; body: Record<string, unknown> }>;
}

export interface DecisionResult {
  readonly executionName: string;
  readonly gateway: string;
  readonly decision: Decision;
  readonly decidedBy: string;
  readonly reason: string;
  readonly planSha256: string;
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

export async function decide(
  approvalFunction: string,
  execution: string,
  decision: Decision,
  opts: { reason: string; planSha256?: string },
  ports: DecisionPorts,
): Promise<DecisionResult> {
  const why = opts.reason.trim();
  if (!why) throw new ApprovalCommandError('a reason is required (--reason "…"); it is kept with the deployment');
  if (why.length > 500) throw new ApprovalCommandError('the reason is longer than 500 characters');
  const planSha256 = opts.planSha256?.toLowerCase();
  if (planSha256 !== undefined && !/^[0-9a-f]{64}$/.test(planSha256)) {
    throw new ApprovalCommandError(`--plan-sha256 "${opts.planSha256}" is not a sha256 (64 hexadecimal characters, as the approval request shows it)`);
  }
  const executionName = executionNameOf(execution);

  const request = { execution: executionName, decision, reason: why, ...(planSha256 ? { planSha256 } : {}) };
  const headers = await ports.signProof(decisionDigest(request));
  const { statusCode, body } = await ports.invoke(approvalFunction, { request, identity: { headers } });
  if (statusCode === 200) {
    return {
      executionName,
      gateway: String(body.gateway ?? ''),
      decision,
      decidedBy: String(body.decidedBy ?? ''),
      reason: why,
      planSha256: String(body.planSha256 ?? ''),
    };
  }
  throw new ApprovalCommandError(`${decision} of execution ${executionName} refused (${body.error ? String(body.error) : statusCode}): ${String(body.message ?? 'no message')}`);
}
