import { decideApproval, type ApprovalVerdict } from '../shared/domain/approval';
import { requireExported, type BuildResult } from '../shared/domain/build-result';
import { detachLine, vpcAddresses, type DetachListReport } from '../shared/domain/detach-vpc';
import type { Operation } from '../shared/domain/execution-input';
import { parseConfigJson } from '../shared/domain/gateway-config';
import { assessRisk, summarizePlan, type PlannedChange, type RiskVerdict, type TerraformPlan } from '../shared/domain/plan';
import type { VersionChange } from '../shared/domain/versions';

/** The plan as a reviewer reads it, cut to what fits in the execution history and a notification. */

export const MAX_LISTED_CHANGES = 50;

export interface AnalyzeEvent {
  readonly config: string;
  /** `operation` is absent in results of a Preflight older than the operations: a deploy. */
  readonly preflight: { readonly trigger: string; readonly change: VersionChange; readonly operation?: Operation };
  /** The Plan build's result; for detach-vpc, the list-vpc build's (it exports DETACH_REPORT_KEY, not a plan). */
  readonly plan: BuildResult;
}

export interface PlanAnalysis extends ApprovalVerdict {
  readonly line: string;
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  readonly hasChanges: boolean;
  readonly risk: RiskVerdict;
  readonly changes: readonly PlannedChange[];
  /** How many changes were left out of `changes`; the full list is in the stored plan. */
  readonly changesNotListed: number;
  readonly replaced: readonly string[];
  readonly planPrefix: string;
  readonly planJsonKey: string;
  readonly planTextKey: string;
  /** The sha256 and S3 version of what an approval approves, as the build stored it: Apply acts on exactly these bytes. */
  readonly planSha256: string;
  readonly planVersionId: string;
}

export async function runAnalyze(event: AnalyzeEvent, readJson: (key: string) => Promise<unknown>): Promise<PlanAnalysis> {
  const config = parseConfigJson(event.config);
  if (event.preflight.operation === 'detach-vpc') return analyzeDetach(event.plan, readJson);
  const planJsonKey = requireExported(event.plan, 'PLAN_JSON_KEY', 'Plan');
  const plan = (await readJson(planJsonKey)) as TerraformPlan;
  const summary = summarizePlan(plan);
  const risk = assessRisk(summary, plan);
  const verdict = decideApproval(summary, risk, event.preflight, config.approval);
  return {
    ...verdict,
    line: summary.line,
    add: summary.add,
    change: summary.change,
    destroy: summary.destroy,
    hasChanges: summary.hasChanges,
    risk: { level: risk.level, reasons: risk.reasons.slice(0, MAX_LISTED_CHANGES) },
    changes: summary.changes.slice(0, MAX_LISTED_CHANGES),
    changesNotListed: Math.max(0, summary.changes.length - MAX_LISTED_CHANGES),
    replaced: summary.replaced.slice(0, MAX_LISTED_CHANGES),
    planPrefix: requireExported(event.plan, 'PLAN_PREFIX', 'Plan'),
    planJsonKey,
    planTextKey: requireExported(event.plan, 'PLAN_TEXT_KEY', 'Plan'),
    ...subjectOf(event.plan, 'Plan'),
  };
}

/**
 * A detach-vpc run: the list-vpc build's addresses, shaped like a plan analysis so that the approval request
 * shows them as changes (action `forget`). Always asked, never auto-approved; nothing to ask when the state
 * holds no module.vpc resource. The "plan" keys point at the list, the one document the approval is about.
 */
export async function analyzeDetach(list: BuildResult, readJson: (key: string) => Promise<unknown>): Promise<PlanAnalysis> {
  const key = requireExported(list, 'DETACH_REPORT_KEY', 'list-vpc');
  const report = (await readJson(key)) as Partial<DetachListReport> | null;
  const raw: unknown[] = Array.isArray(report?.addresses) ? report.addresses : [];
  const addresses = vpcAddresses(raw.filter((a): a is string => typeof a === 'string'));
  if (!Array.isArray(report?.addresses) || addresses.length !== raw.length) {
    throw new Error(`s3 object ${key} is not a list of module.vpc addresses; see the list-vpc build's log (build ${list.buildId ?? 'unknown'})`);
  }
  const count = addresses.length;
  return {
    decision: count > 0 ? 'ask' : 'no-changes',
    because: count > 0 ? 'detaching resources from the Terraform state is always approved by an operator' : 'the Terraform state holds no module.vpc resources',
    line: detachLine(count),
    add: 0,
    change: 0,
    destroy: 0,
    hasChanges: count > 0,
    risk:
      count > 0
        ? {
            level: 'medium',
            reasons: [
              `Terraform stops managing ${count} module.vpc resource(s): later plans neither change nor destroy them, ` +
                'and a deploy with create_vpc still true would create a new VPC',
            ],
          }
        : { level: 'none', reasons: [] },
    changes: addresses.slice(0, MAX_LISTED_CHANGES).map((address) => ({ address, action: 'forget' as const })),
    changesNotListed: Math.max(0, count - MAX_LISTED_CHANGES),
    replaced: [],
    planPrefix: key.slice(0, key.lastIndexOf('/') + 1),
    planJsonKey: key,
    planTextKey: key,
    ...subjectOf(list, 'list-vpc'),
  };
}

/** The digest and S3 version id of the build's approvable output (the plan binary, or the module.vpc list). */
function subjectOf(build: BuildResult, step: string): { planSha256: string; planVersionId: string } {
  const planSha256 = requireExported(build, 'PLAN_SHA256', step);
  if (!/^[0-9a-f]{64}$/.test(planSha256)) throw new Error(`the ${step} build exported PLAN_SHA256 ${JSON.stringify(planSha256)}, not a sha256 (build ${build.buildId ?? 'unknown'})`);
  // An unversioned bucket has no version id; the digest still binds the bytes.
  return { planSha256, planVersionId: requireExported(build, 'PLAN_VERSION_ID', step) };
}
