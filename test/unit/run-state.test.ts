/**
 * Which state failed, from what the run had gathered when the Catch handed over to NotifyFailure.
 */
import { STEPS, failedStep, type RunState } from '../../lambdas/shared/domain/run-state';

const FULL: RunState = {
  request: { version: '0.9.0' },
  preflight: {
    gateway: 'gw-prod',
    version: '0.9.0',
    change: 'upgrade',
    previousVersion: '0.8.1',
    bundle: { key: 'releases/gateway-0.9.0.zip', sha256: 'ab'.repeat(32) },
    trigger: 'cli',
  },
  workspace: { workspacePrefix: 'workspaces/gw-prod/run-1/' },
  plan: { buildId: 'gw-plan:1', exported: [{ Name: 'STEP_STATUS', Value: 'succeeded' }] },
  analysis: {
    line: 'Plan: 0 to add, 1 to change, 0 to destroy.',
    decision: 'approval',
    because: 'every plan is approved by an operator',
    hasChanges: true,
    risk: { level: 'low', reasons: [] },
    planTextKey: 'plans/gw-prod/run-1/plan.redacted.txt',
  },
  approval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:user/alice', reason: 'looks fine' },
  apply: { buildId: 'gw-apply:1', exported: [{ Name: 'STEP_STATUS', Value: 'succeeded' }] },
  verify: { buildId: 'gw-verify:1', exported: [{ Name: 'STEP_STATUS', Value: 'succeeded' }] },
  evaluation: {
    agentVersion: '0.16.20',
    agentImage: 'quay.io/apheris/gateway-agent:0.16.20',
    agentDigest: '',
    expectedAgentVersion: '0.16.20',
    versionCompared: true,
    rollout: '2/2 replicas ready, 2/2 updated',
    connectivity: 'passed',
    connectivityDetail: 'connectivity test pod Succeeded',
    reportKey: 'reports/gw-prod/run-1/verification.json',
  },
};

/** The state as the Catch leaves it: the results before `key`, and the error. */
function upTo(key: keyof RunState, error = { Error: 'States.TaskFailed', Cause: '{}' }, base: RunState = FULL): RunState {
  const index = STEPS.findIndex((s) => s.key === key);
  const kept = new Set(STEPS.slice(0, index).map((s) => s.key));
  const out: Record<string, unknown> = { request: base.request, error };
  for (const step of STEPS) if (kept.has(step.key)) out[step.key] = base[step.key];
  return out as RunState;
}

describe('STEPS', () => {
  test('the states of a run in order, with their result keys', () => {
    expect(STEPS.map((s) => `${s.state}:${s.key}`)).toEqual([
      'Preflight:preflight',
      'RenderWorkspace:workspace',
      'Plan:plan',
      'AnalyzePlan:analysis',
      'RequestApproval:approval',
      'Apply:apply',
      'Verify:verify',
      'EvaluateVerification:evaluation',
      'RecordDeployment:record',
    ]);
  });
});

describe('failedStep', () => {
  test.each(STEPS.map((s) => [s.state, s.key] as const))('%s: the first missing result is %s', (state, key) => {
    expect(failedStep(upTo(key))).toBe(state);
  });

  test('only the first missing result counts', () => {
    const { workspace: _w, apply: _a, ...rest } = FULL;
    expect(failedStep(rest)).toBe('RenderWorkspace');
  });

  test('an empty state (the request alone) failed at Preflight', () => {
    expect(failedStep({})).toBe('Preflight');
    expect(failedStep({ request: 'not even an object', error: { Error: 'InputError' } })).toBe('Preflight');
  });

  test('no-changes skips approval and apply: a failure after the analysis is Verify, then EvaluateVerification', () => {
    const noChanges = { ...FULL, analysis: { ...FULL.analysis!, decision: 'no-changes', hasChanges: false, line: 'No changes.' } };
    const { approval: _a, apply: _p, verify: _v, evaluation: _e, ...afterAnalysis } = noChanges;
    expect(failedStep(afterAnalysis)).toBe('Verify');
    expect(failedStep({ ...afterAnalysis, verify: FULL.verify })).toBe('EvaluateVerification');
    expect(failedStep({ ...afterAnalysis, verify: FULL.verify, evaluation: FULL.evaluation })).toBe('RecordDeployment');
  });

  test('with changes, a missing approval is RequestApproval (auto-approve writes one too)', () => {
    const { approval: _a, apply: _p, verify: _v, evaluation: _e, ...afterAnalysis } = FULL;
    expect(failedStep(afterAnalysis)).toBe('RequestApproval');
    expect(failedStep({ ...afterAnalysis, analysis: { ...FULL.analysis!, decision: 'auto-approve' } })).toBe('RequestApproval');
  });

  test.each(['ApprovalRejected', 'ApprovalTimedOut'])('%s → RequestApproval, whatever else is present', (error) => {
    expect(failedStep({ ...upTo('approval'), error: { Error: error, Cause: 'rejected by alice: not now' } })).toBe('RequestApproval');
    expect(failedStep({ ...FULL, error: { Error: error } })).toBe('RequestApproval');
  });

  test('everything present: RecordDeployment', () => {
    expect(failedStep({ ...FULL, error: { Error: 'States.TaskFailed' } })).toBe('RecordDeployment');
  });

  // The workflow writes RecordDeployment's result under $.record and catches NotifySuccess into NotifyFailure
  // too (lib/constructs/workflow.ts): once the record is there, the step that failed is NotifySuccess.
  test('RecordDeployment done ($.record present): the failure is NotifySuccess, not RecordDeployment', () => {
    const state = { ...FULL, record: { recordedAt: '2024-06-01T10:00:00.000Z', version: '0.9.0' }, error: { Error: 'States.TaskFailed' } } as RunState;
    expect(failedStep(state)).toBe('NotifySuccess');
  });
});
