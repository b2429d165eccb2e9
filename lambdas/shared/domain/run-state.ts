import type { BuildResult } from './build-result';
import type { Evaluation } from './evaluation';

/**
 * What the state machine has gathered about a run by its end: each state adds its result under its own key.
 * RecordDeployment and the notifications read it; every field is optional because a run can stop anywhere.
 */
export interface RunState {
  readonly request?: unknown;
  readonly lock?: { readonly acquiredAt: string; readonly tookOverFrom?: string };
  readonly preflight?: {
    readonly gateway: string;
    readonly version: string;
    readonly change: string;
    readonly previousVersion: string | null;
    readonly bundle: { readonly key: string; readonly sha256: string };
    readonly trigger: string;
    readonly reason?: string;
    readonly expectedAgentVersion?: string;
    readonly operation?: string;
    /** What operators should know but that did not stop the run; absent in results of an older Preflight. */
    readonly warnings?: readonly string[];
  };
  readonly workspace?: { readonly workspacePrefix: string };
  readonly plan?: BuildResult;
  readonly analysis?: {
    readonly line: string;
    readonly decision: string;
    readonly because: string;
    readonly hasChanges: boolean;
    readonly risk: { readonly level: string; readonly reasons: readonly string[] };
    readonly planTextKey: string;
    readonly changes?: ReadonlyArray<{ readonly address: string; readonly action: string }>;
    readonly changesNotListed?: number;
  };
  readonly approval?: { readonly approved: boolean; readonly decidedBy: string; readonly reason: string; readonly decidedAt?: string };
  readonly apply?: BuildResult;
  /** detach-vpc: the DetachVpc build. */
  readonly detach?: BuildResult;
  /** The name-reuse remediation, in its order. */
  readonly applyFailure?: { readonly failure: string; readonly action: string };
  readonly releaseInspection?: BuildResult;
  readonly remediation?: { readonly decision: string; readonly finding: string };
  readonly uninstallApproval?: RunState['approval'];
  readonly uninstall?: BuildResult;
  readonly verify?: BuildResult;
  readonly evaluation?: Evaluation;
  readonly record?: { readonly recordedAt: string; readonly version: string };
  readonly error?: { readonly Error?: string; readonly Cause?: string };
}

export interface ExecutionFacts {
  readonly executionArn: string;
  readonly executionName: string;
  readonly startTime: string;
}

/** The states of a run in order, with the key each one writes its result under. */
export const STEPS: ReadonlyArray<{ readonly state: string; readonly key: keyof RunState }> = [
  { state: 'AcquireLock', key: 'lock' },
  { state: 'Preflight', key: 'preflight' },
  { state: 'RenderWorkspace', key: 'workspace' },
  { state: 'Plan', key: 'plan' },
  { state: 'AnalyzePlan', key: 'analysis' },
  { state: 'RequestApproval', key: 'approval' },
  { state: 'Apply', key: 'apply' },
  { state: 'Verify', key: 'verify' },
  { state: 'EvaluateVerification', key: 'evaluation' },
  { state: 'RecordDeployment', key: 'record' },
];

/**
 * The state that failed: the first one whose result is missing. A Catch does not say which state it caught
 * from, but the results so far do; a plan without changes skips approval and apply.
 */
export function failedStep(state: RunState): string {
  if (state.error?.Error === 'DeploymentInProgress') return 'AcquireLock';
  if (state.error?.Error === 'ApprovalRejected' || state.error?.Error === 'ApprovalTimedOut') {
    // A re-plan decision skips ApproveUninstall: a rejection after it comes from the second RequestApproval.
    return state.remediation && state.remediation.decision !== 're-plan' && !state.uninstallApproval ? 'ApproveUninstall' : 'RequestApproval';
  }
  // The remediation runs after a failed Apply, until the re-plan.
  if (state.applyFailure?.action === 'inspect-release') {
    const missing = REMEDIATION_STEPS.find((step) => state[step.key] === undefined);
    if (missing && !(missing.key === 'uninstallApproval' && state.remediation?.decision === 're-plan')) return missing.state;
  }
  const operation = state.preflight?.operation;
  const noChanges = state.analysis?.decision === 'no-changes';
  if (operation === 'detach-vpc') {
    // Nothing in module.vpc: the run goes from AnalyzePlan straight to NotifyDetached.
    const missing = DETACH_STEPS.find((step) => !(noChanges && (step.key === 'approval' || step.key === 'detach')) && state[step.key] === undefined);
    return missing?.state ?? 'NotifyDetached';
  }
  const skipped = noChanges ? new Set(['approval', 'apply']) : new Set<string>();
  if (operation === 'drift-check') {
    const missing = STEPS.slice(0, 5).find((step) => state[step.key] === undefined);
    return missing?.state ?? 'NotifyDrift';
  }
  const missing = STEPS.find((step) => !skipped.has(step.key) && state[step.key] === undefined);
  return missing?.state ?? 'NotifySuccess';
}

const REMEDIATION_STEPS: ReadonlyArray<{ readonly state: string; readonly key: keyof RunState }> = [
  { state: 'InspectRelease', key: 'releaseInspection' },
  { state: 'PrepareUninstall', key: 'remediation' },
  { state: 'ApproveUninstall', key: 'uninstallApproval' },
  { state: 'UninstallRelease', key: 'uninstall' },
];

const DETACH_STEPS: ReadonlyArray<{ readonly state: string; readonly key: keyof RunState }> = [
  ...STEPS.slice(0, 3),
  { state: 'ListVpcState', key: 'plan' },
  { state: 'AnalyzePlan', key: 'analysis' },
  { state: 'RequestApproval', key: 'approval' },
  { state: 'DetachVpc', key: 'detach' },
];
