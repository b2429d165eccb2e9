import type { DecisionRecord } from '../shared/domain/decision';
import { approvalRound, judgeDecision } from '../shared/domain/decision';
import { parseConfigJson } from '../shared/domain/gateway-config';

/**
 * CheckApproval, after every approval wait: the run goes on only when the approval function recorded an approval
 * of this execution, this round and this digest, by a principal approval.approvers names. What woke the run (the
 * task result, anyone's SendTaskSuccess) is ignored; the record replaces it as the run's approval.
 */

export class ApprovalNotValid extends Error {
  override readonly name = 'ApprovalNotValid';
}

export interface CheckApprovalEvent {
  readonly config: string;
  readonly executionName: string;
  /** The approval state that waited, and the build whose output it asked about. */
  readonly approvalState: string;
  readonly subjectBuildId: string;
  /** The digest of what the next step acts on. */
  readonly planSha256: string;
}

export interface CheckedApproval {
  readonly approved: true;
  readonly decidedBy: string;
  readonly reason: string;
  readonly decidedAt: string;
  readonly round: string;
  readonly planSha256: string;
}

export async function checkApproval(event: CheckApprovalEvent, read: (executionName: string, round: string) => Promise<DecisionRecord | null>): Promise<CheckedApproval> {
  const config = parseConfigJson(event.config);
  const round = approvalRound(event.approvalState, event.subjectBuildId);
  const judgement = judgeDecision(await read(event.executionName, round), {
    executionName: event.executionName,
    round,
    planSha256: event.planSha256,
    approvers: config.approval.approvers,
  });
  if (!judgement.valid) throw new ApprovalNotValid(`${judgement.reason}; nothing was applied`);
  const r = judgement.record;
  return { approved: true, decidedBy: r.approverArn, reason: r.reason, decidedAt: r.decidedAt, round: r.round, planSha256: r.planSha256 };
}
