import type { BuildResult } from './build-result';
import type { Evaluation } from './evaluation';

/**
 * What the state machine has gathered about a run by its end: each state adds its result under its own key.
 * RecordDeployment and the notifications read it; every field is optional because a run can stop anywhere.
 */
export interface RunState {
  readonly request?: unknown;
  readonly preflight?: {
    readonly gateway: string;
    readonly version: string;
    readonly change: string;
    readonly previousVersion: string | null;
    readonly bundle: { readonly key: string; readonly sha256: string };
    readonly trigger: string;
    readonly reason?: string;
    readonly expectedAgentVersion?: string;
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
  };
  readonly approval?: { readonly approved: boolean; readonly decidedBy: string; readonly reason: string; readonly decidedAt?: string };
  readonly apply?: BuildResult;
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
  if (state.error?.Error === 'ApprovalRejected' || state.error?.Error === 'ApprovalTimedOut') return 'RequestApproval';
  const skipped = state.analysis?.decision === 'no-changes' ? new Set(['approval', 'apply']) : new Set<string>();
  const missing = STEPS.find((step) => !skipped.has(step.key) && state[step.key] === undefined);
  return missing?.state ?? 'NotifySuccess';
}
