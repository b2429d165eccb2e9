/**
 * How long a run may take at most, so the state machine's own timeout never cuts a run that is still within its
 * steps' limits. The longest path is the name-reuse remediation: Plan, approval, Apply (fails), InspectRelease,
 * approval of the uninstall, UninstallRelease, Plan again, approval again, Apply again, Verify: three approval
 * waits, two Plans, two Applies and three cluster builds.
 */

/** CodeBuild's own limits per build, in minutes. */
export interface BuildLimits {
  readonly planMinutes: number;
  readonly applyMinutes: number;
  /** The Verify project also runs InspectRelease and UninstallRelease. */
  readonly clusterMinutes: number;
  /** How long a build may wait in CodeBuild's queue before it fails (each build). */
  readonly queuedMinutes: number;
}

export const PLAN_BUILD_MINUTES = 30;
export const APPLY_BUILD_MINUTES = 90;
/** Set on every project: CodeBuild's default (8 h) would let queued builds use up a run's whole budget. */
export const QUEUED_BUILD_MINUTES = 60;

/** Verify: kube tools, the rollout wait and helm test, each bounded by the config. */
export const clusterBuildMinutes = (verify: { readonly rolloutTimeoutMinutes: number; readonly helmTestTimeoutMinutes: number }): number =>
  20 + verify.rolloutTimeoutMinutes + verify.helmTestTimeoutMinutes;

/** The longest path's counts, from the state machine's shape (see the file comment). */
export const LONGEST_PATH = { approvalWaits: 3, plans: 2, applies: 2, clusterBuilds: 3 } as const;

/** Every Lambda step, retries included, and the transitions: far less than this. */
export const LAMBDA_AND_TRANSITION_MARGIN_MINUTES = 120;

/** The state machine's timeout, in whole hours: the longest path with every wait and build at its limit. */
export function runTimeoutHours(approvalTimeoutHours: number, builds: BuildLimits): number {
  const p = LONGEST_PATH;
  const buildMinutes =
    p.plans * (builds.planMinutes + builds.queuedMinutes) +
    p.applies * (builds.applyMinutes + builds.queuedMinutes) +
    p.clusterBuilds * (builds.clusterMinutes + builds.queuedMinutes);
  return p.approvalWaits * approvalTimeoutHours + Math.ceil((buildMinutes + LAMBDA_AND_TRANSITION_MARGIN_MINUTES) / 60);
}
