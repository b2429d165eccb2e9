import { admittingEntry } from './approvers';

/**
 * The approve → apply contract, as data. Each approval wait of a run is a round: the approval state and the build
 * whose output is approved (a plan, a list of module.vpc addresses, a release inspection). The stack's approval
 * function records one decision per round, append-only; after every wait the state machine continues only when
 * judgeDecision accepts the record for this execution, this round and this digest. A task token alone approves
 * nothing: it only wakes the run, and the token is readable in the execution history.
 */

export type DecisionStatus = 'approved' | 'rejected';

/** The partition prefix of decision items (`DECISION#<execution>` / `<round>`), which only the approval function may write. */
export const DECISION_PARTITION_PREFIX = 'DECISION#';

export interface DecisionRecord {
  readonly executionName: string;
  readonly round: string;
  readonly status: DecisionStatus;
  /** The caller's ARN as AWS verified it for the signed request. */
  readonly approverArn: string;
  readonly reason: string;
  readonly decidedAt: string;
  /** The sha256 of what was approved, as the approval request showed it. */
  readonly planSha256: string;
}

/** A round: which approval state, and which build's output it is about (build ids are unique). */
export function approvalRound(approvalState: string, subjectBuildId: string): string {
  if (!/^[A-Za-z]+$/.test(approvalState)) throw new Error(`approval state name ${JSON.stringify(approvalState)} is not a state name`);
  if (!subjectBuildId || /\s/.test(subjectBuildId)) throw new Error(`subject build id ${JSON.stringify(subjectBuildId)} is not a build id`);
  return `${approvalState}#${subjectBuildId}`;
}

export interface ExpectedDecision {
  readonly executionName: string;
  readonly round: string;
  /** The digest of what the next step will act on (the plan Apply applies). */
  readonly planSha256: string;
  readonly approvers: readonly string[];
}

export type Judgement = { readonly valid: true; readonly record: DecisionRecord } | { readonly valid: false; readonly reason: string };

/** Whether a recorded decision lets the run go on. Every "no" says why, for the operators' failure notice. */
export function judgeDecision(record: DecisionRecord | null, expected: ExpectedDecision): Judgement {
  const no = (reason: string): Judgement => ({ valid: false, reason });
  if (!record) return no(`no decision was recorded for this approval (round ${expected.round}): the run was woken without the approval function`);
  if (record.executionName !== expected.executionName) return no(`the decision belongs to execution ${record.executionName}, not ${expected.executionName}`);
  if (record.round !== expected.round) return no(`the decision belongs to round ${record.round}, not ${expected.round}`);
  if (record.status !== 'approved') return no(`the recorded decision is "${record.status}" by ${record.approverArn}`);
  if (record.planSha256 !== expected.planSha256) {
    return no(`the approval was for sha256 ${record.planSha256}, but the run would act on sha256 ${expected.planSha256}`);
  }
  if (!admittingEntry(record.approverArn, expected.approvers)) return no(`${record.approverArn} is not in approval.approvers`);
  return { valid: true, record };
}
