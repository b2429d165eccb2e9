import { decideApproval, type ApprovalVerdict } from '../shared/domain/approval';
import { requireExported, type BuildResult } from '../shared/domain/build-result';
import { parseConfigJson } from '../shared/domain/gateway-config';
import { assessRisk, summarizePlan, type PlannedChange, type RiskVerdict, type TerraformPlan } from '../shared/domain/plan';
import type { VersionChange } from '../shared/domain/versions';

/** The plan as a reviewer reads it, cut to what fits in the execution history and a notification. */

export const MAX_LISTED_CHANGES = 50;

export interface AnalyzeEvent {
  readonly config: string;
  readonly preflight: { readonly trigger: string; readonly change: VersionChange };
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
}

export async function runAnalyze(event: AnalyzeEvent, readJson: (key: string) => Promise<unknown>): Promise<PlanAnalysis> {
  const config = parseConfigJson(event.config);
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
  };
}
