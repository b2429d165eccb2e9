/**
 * Which state failed, from what the run had gathered when the Catch handed over to NotifyFailure.
 */
import { STEPS, failedStep, type RunState } from '../../lambdas/shared/domain/run-state';

const FULL: RunState = {
  request: { version: '0.9.0' },
  lock: { acquiredAt: '2024-06-01T09:00:01.000Z' },
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
      'AcquireLock:lock',
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

  // AcquireLock is the first state: without its result nothing later ran.
  test('an empty state (the request alone) failed at AcquireLock; with the lock, at Preflight', () => {
    expect(failedStep({})).toBe('AcquireLock');
    expect(failedStep({ request: 'not even an object', error: { Error: 'States.TaskFailed' } })).toBe('AcquireLock');
    expect(failedStep({ request: 'not even an object', lock: FULL.lock, error: { Error: 'InputError' } })).toBe('Preflight');
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

describe('failedStep: AcquireLock', () => {
  test('DeploymentInProgress → AcquireLock, whatever else the state holds', () => {
    const refused = { Error: 'DeploymentInProgress', Cause: 'deployment in progress: arn:…:run-1 (running since 2024-06-01T08:00:00.000Z)' };
    expect(failedStep({ request: FULL.request, error: refused })).toBe('AcquireLock');
    // The error name wins even over results that would point elsewhere.
    expect(failedStep({ ...FULL, error: refused })).toBe('AcquireLock');
  });

  test('no lock result (AcquireLock itself failed, e.g. DynamoDB throttled): AcquireLock', () => {
    const { lock: _l, ...noLock } = FULL;
    expect(failedStep({ ...noLock, error: { Error: 'ProvisionedThroughputExceededException' } })).toBe('AcquireLock');
    expect(failedStep({ request: FULL.request, error: { Error: 'Lambda.ServiceException' } })).toBe('AcquireLock');
  });

  test('a takeover is a lock result like any other: the run goes on to Preflight', () => {
    expect(failedStep({ request: FULL.request, lock: { acquiredAt: 't', tookOverFrom: 'arn:old' }, error: { Error: 'InputError' } })).toBe('Preflight');
  });
});

describe('failedStep: detach-vpc', () => {
  const vpcChanges = [
    { address: 'module.gateway.module.vpc.aws_vpc.this[0]', action: 'delete' },
    { address: 'module.gateway.module.vpc.aws_subnet.private[0]', action: 'delete' },
  ];
  const DETACH: RunState = {
    request: { operation: 'detach-vpc' },
    lock: FULL.lock,
    preflight: { ...FULL.preflight!, change: 'detach-vpc', operation: 'detach-vpc' },
    workspace: FULL.workspace,
    plan: { buildId: 'gw-plan:7', exported: [{ Name: 'STEP_STATUS', Value: 'succeeded' }] },
    analysis: { ...FULL.analysis!, line: 'Plan: 0 to add, 0 to change, 2 to destroy.', decision: 'ask', changes: vpcChanges },
    approval: FULL.approval,
    detach: { buildId: 'gw-apply:7', exported: [{ Name: 'STATE_BACKUP_KEY', Value: 'backups/gw-prod/run-1/terraform.tfstate' }] },
  };
  const without = (...keys: Array<keyof RunState>): RunState => {
    const out: Record<string, unknown> = { ...DETACH, error: { Error: 'States.TaskFailed', Cause: 'x' } };
    for (const key of keys) delete out[key];
    return out as RunState;
  };

  test.each([
    ['plan', 'ListVpcState'],
    ['analysis', 'AnalyzePlan'],
    ['approval', 'RequestApproval'],
    ['detach', 'DetachVpc'],
  ] as const)('without $.%s: %s', (key, state) => {
    const order: Array<keyof RunState> = ['plan', 'analysis', 'approval', 'detach'];
    expect(failedStep(without(...order.slice(order.indexOf(key))))).toBe(state);
  });

  test('before the operation is known: the shared first steps', () => {
    expect(failedStep(without('lock', 'preflight', 'workspace', 'plan', 'analysis', 'approval', 'detach'))).toBe('AcquireLock');
    expect(failedStep(without('workspace', 'plan', 'analysis', 'approval', 'detach'))).toBe('RenderWorkspace');
  });

  test('everything present: the failure is NotifyDetached (never Apply, Verify or RecordDeployment)', () => {
    expect(failedStep(without())).toBe('NotifyDetached');
  });

  test('nothing in module.vpc (no-changes): AnalyzePlan goes straight to NotifyDetached, so a failure there is NotifyDetached', () => {
    const empty = { ...without('approval', 'detach'), analysis: { ...DETACH.analysis!, decision: 'no-changes', hasChanges: false, changes: [] } };
    expect(failedStep(empty)).toBe('NotifyDetached');
  });

  test('a rejected detach: RequestApproval', () => {
    expect(failedStep({ ...without('approval', 'detach'), error: { Error: 'ApprovalRejected', Cause: 'rejected by bob: not today' } })).toBe('RequestApproval');
  });
});

describe('failedStep: drift-check', () => {
  const DRIFT: RunState = {
    request: { operation: 'drift-check' },
    lock: FULL.lock,
    preflight: { ...FULL.preflight!, change: 'redeploy', previousVersion: '0.9.0', operation: 'drift-check' },
    workspace: FULL.workspace,
    plan: FULL.plan,
    analysis: FULL.analysis,
  };

  test('Plan failed: Plan', () => {
    const { plan: _p, analysis: _a, ...beforePlan } = DRIFT;
    expect(failedStep({ ...beforePlan, error: { Error: 'States.TaskFailed' } })).toBe('Plan');
  });

  test('AnalyzePlan failed: AnalyzePlan', () => {
    const { analysis: _a, ...beforeAnalysis } = DRIFT;
    expect(failedStep({ ...beforeAnalysis, error: { Error: 'States.TaskFailed' } })).toBe('AnalyzePlan');
  });

  test.each(['approval', 'no-changes'])('after the analysis (decision %s): NotifyDrift, never RequestApproval or Apply', (decision) => {
    const state = { ...DRIFT, analysis: { ...DRIFT.analysis!, decision }, error: { Error: 'States.TaskFailed' } };
    expect(failedStep(state)).toBe('NotifyDrift');
  });
});

describe('failedStep: the name-reuse remediation after a failed Apply', () => {
  /** The state after the first Apply failed with the name reuse: up to the approval, no $.apply. */
  const { apply: _a, verify: _v, evaluation: _e, ...beforeApply } = FULL;
  const REMEDIATING: RunState = { ...beforeApply, applyFailure: { failure: 'helm-release-name-in-use', action: 'inspect-release' } };
  const inspection = { buildId: 'gw-verify:3', exported: [{ Name: 'RELEASE_REPORT_KEY', Value: 'reports/gw-prod/run-1/release-inspection.json' }] };
  const ASKED: RunState = { ...REMEDIATING, releaseInspection: inspection, remediation: { decision: 'ask', finding: 'unmanaged' } };
  const failed = (state: RunState, Error = 'States.TaskFailed'): RunState => ({ ...state, error: { Error, Cause: 'x' } });

  test('InspectRelease failed', () => {
    expect(failedStep(failed(REMEDIATING))).toBe('InspectRelease');
  });

  test('PrepareUninstall failed (e.g. ReleaseManagedElsewhere)', () => {
    expect(failedStep(failed({ ...REMEDIATING, releaseInspection: inspection }, 'ReleaseManagedElsewhere'))).toBe('PrepareUninstall');
  });

  test('ApproveUninstall failed (its Lambda, not a decision)', () => {
    expect(failedStep(failed(ASKED))).toBe('ApproveUninstall');
  });

  test.each(['ApprovalRejected', 'ApprovalTimedOut'])('%s during ApproveUninstall: ApproveUninstall, not RequestApproval', (error) => {
    expect(failedStep(failed(ASKED, error))).toBe('ApproveUninstall');
  });

  test('UninstallRelease failed', () => {
    const approved = { ...ASKED, uninstallApproval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:user/alice', reason: 'unmanaged leftover' } };
    expect(failedStep(failed(approved))).toBe('UninstallRelease');
  });

  test('ApprovalRejected at the second RequestApproval (after the uninstall): RequestApproval', () => {
    const uninstalled: RunState = {
      ...ASKED,
      uninstallApproval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:user/alice', reason: 'ok' },
      uninstall: { buildId: 'gw-verify:4' },
    };
    expect(failedStep(failed(uninstalled, 'ApprovalRejected'))).toBe('RequestApproval');
  });

  test('re-plan decision (release already gone) skips ApproveUninstall and UninstallRelease', () => {
    const replan: RunState = { ...REMEDIATING, releaseInspection: inspection, remediation: { decision: 're-plan', finding: 'absent' } };
    // The re-planned run failed at its second Apply: Diagnose wrote action none, so the ordinary steps count.
    expect(failedStep(failed({ ...replan, applyFailure: { failure: 'helm-release-name-in-use', action: 'none' } }))).toBe('Apply');
    // Still inspect-release (the Diagnose of the second Apply failed too): never ApproveUninstall or UninstallRelease.
    expect(failedStep(failed(replan))).toBe('Apply');
    // A rejection after a re-plan comes from the second RequestApproval; there was no ApproveUninstall to reject.
    expect(failedStep(failed(replan, 'ApprovalRejected'))).toBe('RequestApproval');
    expect(failedStep(failed(replan, 'ApprovalTimedOut'))).toBe('RequestApproval');
  });

  test('an Apply failure without a remediation (action none): Apply', () => {
    expect(failedStep(failed({ ...beforeApply, applyFailure: { failure: 'state-lock-held', action: 'none' } }))).toBe('Apply');
  });
});
