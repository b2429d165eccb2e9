import type { PlanSummary, RiskVerdict } from './plan';
import type { VersionChange } from './versions';

/**
 * Who answers the HOWTO's "Do you want to perform these actions? Only 'yes' will be accepted". A person, unless
 * the configuration lets a bundle upgrade through on its own and the plan gives no reason to look.
 */

export type ApprovalDecision = 'no-changes' | 'auto-approve' | 'ask';

export interface ApprovalPolicy {
  readonly autoApproveS3Upgrades: boolean;
}

export interface RunFacts {
  readonly trigger: string;
  readonly change: VersionChange;
}

export interface ApprovalVerdict {
  readonly decision: ApprovalDecision;
  /** Why an operator is asked (or why not), for the message and the history. */
  readonly because: string;
}

export function decideApproval(summary: PlanSummary, risk: RiskVerdict, run: RunFacts, policy: ApprovalPolicy): ApprovalVerdict {
  if (!summary.hasChanges) return { decision: 'no-changes', because: 'the plan has no changes' };
  if (!policy.autoApproveS3Upgrades) return { decision: 'ask', because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)' };
  if (run.trigger !== 's3') return { decision: 'ask', because: `runs started from the ${run.trigger} are approved by an operator` };
  if (run.change !== 'upgrade') {
    const what = run.change === 'same' ? 'a run on the deployed version' : `${/^[aeiou]/.test(run.change) ? 'an' : 'a'} ${run.change}`;
    return { decision: 'ask', because: `${what} is approved by an operator` };
  }
  if (summary.destroy > 0) return { decision: 'ask', because: `the plan destroys ${summary.destroy} resource(s)` };
  if (risk.level !== 'low') return { decision: 'ask', because: `the plan is ${risk.level} risk` };
  return { decision: 'auto-approve', because: 'an S3-triggered upgrade whose plan is low risk and destroys nothing' };
}
