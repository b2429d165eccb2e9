import { failedStep, type ExecutionFacts, type RunState } from './run-state';

/** The CURRENT item's verification of a run that passed Verify. */
export const VERIFIED = 'verified';

/**
 * A failed deploy run that had applied its whole plan leaves that version on the cluster: CURRENT must say so
 * ("not verified: failed at Verify (VerificationError)"), or the next run compares against a version the cluster no
 * longer runs (a drift check would plan the old bundle, and going back to it would pass as a redeploy). Null when
 * the run applied nothing (or only part of its plan, which the state records and the next Plan shows).
 */
export function appliedButNotVerified(state: RunState, step: string = failedStep(state)): string | null {
  const operation = state.preflight?.operation ?? 'deploy';
  if (operation !== 'deploy' || state.apply === undefined || state.record !== undefined) return null;
  return `not verified: failed at ${step} (${state.error?.Error ?? 'unknown error'})`;
}

/**
 * One deployment record per run, success or failure: what was deployed, from what, on whose approval, and
 * what was verified. Flat strings, so the table item and the CLI's history stay simple.
 */
export interface DeploymentRecord {
  readonly gateway: string;
  readonly outcome: 'succeeded' | 'failed';
  readonly executionArn: string;
  readonly executionName: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly trigger: string;
  readonly reason: string;
  readonly change: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly bundleKey: string;
  readonly bundleSha256: string;
  readonly planSummary: string;
  readonly risk: string;
  readonly approvedBy: string;
  readonly approvalReason: string;
  readonly agentVersion: string;
  readonly agentImage: string;
  readonly expectedAgentVersion: string;
  readonly connectivity: string;
  readonly failedStep: string;
  readonly error: string;
  /** Preflight's warnings, one per line ('' when none): `status` shows those of the deployed run. */
  readonly warnings: string;
}

export function deploymentRecord(state: RunState, exec: ExecutionFacts, gateway: string, outcome: 'succeeded' | 'failed', finishedAt: string): DeploymentRecord {
  const p = state.preflight;
  const noChanges = state.analysis?.decision === 'no-changes';
  return {
    gateway,
    outcome,
    executionArn: exec.executionArn,
    executionName: exec.executionName,
    startedAt: exec.startTime,
    finishedAt,
    trigger: p?.trigger ?? '',
    reason: p?.reason ?? '',
    change: p?.change ?? '',
    fromVersion: p?.previousVersion ?? '',
    toVersion: p?.version ?? '',
    bundleKey: p?.bundle.key ?? '',
    bundleSha256: p?.bundle.sha256 ?? '',
    planSummary: state.analysis?.line ?? '',
    risk: state.analysis?.risk.level ?? '',
    approvedBy: noChanges ? 'not needed: no changes' : (state.approval?.decidedBy ?? ''),
    approvalReason: state.approval?.reason ?? '',
    agentVersion: state.evaluation?.agentVersion ?? '',
    agentImage: state.evaluation?.agentImage ?? '',
    expectedAgentVersion: state.evaluation?.expectedAgentVersion ?? p?.expectedAgentVersion ?? '',
    connectivity: state.evaluation?.connectivity ?? '',
    failedStep: outcome === 'failed' ? failedStep(state) : '',
    error: outcome === 'failed' ? (state.error?.Error ?? '') : '',
    warnings: (p?.warnings ?? []).join('\n'),
  };
}
