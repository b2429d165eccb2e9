/**
 * Notify with fake ports: the seed's "Wrapping up" to support and operators on success; on failure one notice
 * to operators (step, error in plain words, log, advice) and a failed history record.
 */
import { capacitySummary, notify, type NotifyEvent, type NotifyPorts, type NotifySettings } from '../../lambdas/notify/notify';
import type { DeploymentRecord } from '../../lambdas/shared/domain/history';
import type { RunState } from '../../lambdas/shared/domain/run-state';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import { capacityReport, JOB_LABEL, type CapacityReport } from '../../lambdas/shared/domain/verification';

const NOW = new Date('2024-06-01T10:30:00.000Z');
const EXEC = 'run-42';
const EXEC_ARN = `arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:${EXEC}`;
const REPORT_KEY = `reports/gw-prod/${EXEC}/verification.json`;
/** Put where no notification should ever look; any appearance means a field was rendered that should not be. */
const CANARY = 'CANARY-not-for-mail-7f3e';

const SETTINGS: NotifySettings = {
  artifactsBucket: 'gw-artifacts-123456789012',
  accountId: '123456789012',
  region: 'eu-central-1',
  stateBucket: 'gw-state-123456789012',
  stepLogGroups: {
    AcquireLock: '/aws/lambda/GatewayDeployer-gw-prod-AcquireLock',
    Preflight: '/aws/lambda/GatewayDeployer-gw-prod-Preflight',
    RenderWorkspace: '/aws/lambda/GatewayDeployer-gw-prod-RenderWorkspace',
    AnalyzePlan: '/aws/lambda/GatewayDeployer-gw-prod-AnalyzePlan',
    RequestApproval: '/aws/lambda/GatewayDeployer-gw-prod-RequestApproval',
    EvaluateVerification: '/aws/lambda/GatewayDeployer-gw-prod-EvaluateVerification',
    RecordDeployment: '/aws/lambda/GatewayDeployer-gw-prod-RecordDeployment',
  },
};

const exported = (vars: Record<string, string>) => Object.entries(vars).map(([Name, Value]) => ({ Name, Value }));

const FULL: RunState = {
  request: { version: '0.9.0', expectedAgentVersion: '0.16.20', note: CANARY },
  lock: { acquiredAt: '2024-06-01T09:00:01.000Z' },
  preflight: {
    gateway: 'gw-prod',
    version: '0.9.0',
    change: 'upgrade',
    previousVersion: '0.8.1',
    bundle: { key: 'releases/gateway-0.9.0.zip', sha256: 'ab'.repeat(32) },
    trigger: 'cli',
    reason: 'quarterly upgrade',
    expectedAgentVersion: '0.16.20',
  },
  workspace: { workspacePrefix: `workspaces/gw-prod/${EXEC}/${CANARY}/` },
  plan: { buildId: 'gw-plan:1', exported: exported({ STEP_STATUS: 'succeeded', PLAN_NOTE: CANARY }) },
  analysis: {
    line: 'Plan: 0 to add, 2 to change, 0 to destroy.',
    decision: 'approval',
    because: `every plan is approved by an operator ${CANARY}`,
    hasChanges: true,
    risk: { level: 'low', reasons: [CANARY] },
    planTextKey: `plans/gw-prod/${EXEC}/plan.redacted.txt`,
  },
  approval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:user/alice', reason: 'looks fine', decidedAt: '2024-06-01T10:00:00.000Z' },
  apply: { buildId: 'gw-apply:1', exported: exported({ STEP_STATUS: 'succeeded', CLUSTER_ENDPOINT: `https://${CANARY}.eks.amazonaws.com` }) },
  verify: { buildId: 'gw-verify:1', exported: exported({ STEP_STATUS: 'succeeded', VERIFICATION_REPORT_KEY: REPORT_KEY, AGENT_DEPLOYMENT: CANARY }) },
  evaluation: {
    agentVersion: '0.16.20',
    agentImage: 'quay.io/apheris/gateway-agent:0.16.20',
    agentDigest: 'sha256:abc',
    expectedAgentVersion: '0.16.20',
    versionCompared: true,
    rollout: '2/2 replicas ready, 2/2 updated',
    connectivity: 'passed',
    connectivityDetail: 'connectivity test pod Succeeded',
    reportKey: REPORT_KEY,
  },
};

const jobPod = (name: string, memory: string) => ({
  metadata: { name, labels: { [JOB_LABEL]: name } },
  spec: { containers: [{ resources: { requests: { memory } } }] },
});
/** 3 × 4Gi on two 15Gi nodes: 12Gi of 30Gi (40 %), and 3Gi of each node unused. */
const CAPACITY: CapacityReport = capacityReport(
  [jobPod('a', '4Gi'), jobPod('b', '4Gi'), jobPod('c', '4Gi')],
  [
    { metadata: { name: 'n1' }, status: { allocatable: { memory: '15Gi' } } },
    { metadata: { name: 'n2' }, status: { allocatable: { memory: '15Gi' } } },
  ],
);

interface Published {
  topic: 'support' | 'operators';
  subject: string;
  text: string;
}

function fakePorts(objects: Record<string, unknown> = {}, over: Partial<NotifyPorts> = {}) {
  const published: Published[] = [];
  const records: DeploymentRecord[] = [];
  const applied: Array<{ record: DeploymentRecord; verification: string }> = [];
  const reads: string[] = [];
  const ports: NotifyPorts = {
    readJson: async (key) => {
      reads.push(key);
      return key in objects ? objects[key] : null;
    },
    publish: async (topic, subject, text) => void published.push({ topic, subject, text }),
    recordRun: async (record) => void records.push(record),
    recordApplied: async (record, verification) => void applied.push({ record, verification }),
    now: () => NOW,
    ...over,
  };
  return { ports, published, records, applied, reads };
}

const event = (kind: NotifyEvent['kind'], state: RunState): NotifyEvent => ({
  kind,
  gateway: 'gw-prod',
  executionArn: EXEC_ARN,
  executionName: EXEC,
  startTime: '2024-06-01T09:00:00.000Z',
  state,
});

/** The state as a Catch leaves it: every result up to (not including) `key`, and the error. */
function failedAt(key: keyof RunState, error: { Error?: string; Cause?: string }): RunState {
  const order: Array<keyof RunState> = ['lock', 'preflight', 'workspace', 'plan', 'analysis', 'approval', 'apply', 'verify', 'evaluation'];
  const out: Record<string, unknown> = { request: FULL.request, error };
  for (const k of order.slice(0, order.indexOf(key))) out[k] = FULL[k];
  return out as RunState;
}

const allText = (published: Published[]) => published.map((p) => `${p.subject}\n${p.text}`).join('\n');

describe('capacitySummary', () => {
  test('none: null', () => {
    expect(capacitySummary(null)).toBeNull();
    expect(capacitySummary(undefined)).toBeNull();
  });

  test('computations, requested of allocatable, the rate, and the recommendation', () => {
    expect(capacitySummary(CAPACITY)).toBe(
      '3 running computation(s) request 12Gi of 30Gi allocatable node memory (40 %). ' +
        'node memory is not a multiple of the most common computation request (4Gi): n1 (15Gi fits 3, leaving 3Gi unused); ' +
        'n2 (15Gi fits 3, leaving 3Gi unused). Consider Karpenter node pools (karpenter_node_pools) whose instance memory is a multiple of it.',
    );
  });

  test('no recommendation: the head alone; no nodes: n/a', () => {
    expect(capacitySummary(capacityReport([], [{ metadata: { name: 'n1' }, status: { allocatable: { memory: '16Gi' } } }]))).toBe(
      '0 running computation(s) request 0Gi of 16Gi allocatable node memory (0 %).',
    );
    expect(capacitySummary(capacityReport([], []))).toBe('0 running computation(s) request 0Gi of 0Gi allocatable node memory (n/a).');
  });
});

describe('notify: success', () => {
  test('support first, then operators; the verification report gives the capacity line', async () => {
    const fake = fakePorts({ [REPORT_KEY]: { gateway: 'gw-prod', capacity: CAPACITY } });
    await expect(notify(event('success', FULL), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['support', 'operators'] });

    expect(fake.reads).toEqual([REPORT_KEY]);
    expect(fake.published.map((p) => p.topic)).toEqual(['support', 'operators']);
    const [support, operators] = fake.published;
    expect(support.subject).toBe('Compute Gateway gw-prod upgraded to 0.9.0: please run the smoke tests');
    expect(support.text.startsWith('Hello Apheris support,')).toBe(true);
    expect(support.text).toContain(
      'Compute Gateway "gw-prod" (AWS account 123456789012, eu-central-1) was upgraded from 0.8.1 to 0.9.0 on 2024-06-01T10:30:00.000Z.',
    );
    expect(support.text).toContain('Terraform: Plan: 0 to add, 2 to change, 0 to destroy.');
    expect(support.text).toContain('Approved by: arn:aws:iam::123456789012:user/alice');
    expect(support.text).toContain('Agent version: 0.16.20, as communicated (0.16.20). Image: quay.io/apheris/gateway-agent:0.16.20');
    expect(support.text).toContain('Connectivity tests (helm test apheris-gateway): passed (connectivity test pod Succeeded)');
    expect(support.text).toContain(`Capacity: ${capacitySummary(CAPACITY)}`);
    expect(support.text).toContain('Please confirm the completion and run the smoke tests');

    const json = JSON.parse(support.text.slice(support.text.indexOf('Report (JSON):\n') + 'Report (JSON):\n'.length));
    expect(json).toMatchObject({
      gateway: 'gw-prod',
      outcome: 'succeeded',
      executionArn: EXEC_ARN,
      fromVersion: '0.8.1',
      toVersion: '0.9.0',
      agentVersion: '0.16.20',
      expectedAgentVersion: '0.16.20',
      approvedBy: 'arn:aws:iam::123456789012:user/alice',
      failedStep: '',
      capacity: JSON.parse(JSON.stringify(CAPACITY)),
    });

    expect(operators.subject).toBe('Compute Gateway gw-prod: upgraded to 0.9.0, verified');
    expect(operators.text).toContain(`Execution: ${EXEC_ARN}`);
    expect(operators.text).toContain(`Full report: s3://gw-artifacts-123456789012/${REPORT_KEY}`);
    expect(fake.records).toEqual([]);
  });

  test('only the fields meant for mail are rendered: nothing from the request, workspace, builds\' other exports or risk reasons', async () => {
    const state = { ...FULL, unexpected: { token: CANARY } } as RunState;
    const fake = fakePorts({ [REPORT_KEY]: { capacity: CAPACITY } });
    await notify(event('success', state), fake.ports, SETTINGS);
    expect(fake.published).toHaveLength(2);
    expect(allText(fake.published)).not.toContain(CANARY);
  });

  test('the report key from the Verify exports when the evaluation has none; no report: no capacity line', async () => {
    const state: RunState = { ...FULL, evaluation: { ...FULL.evaluation!, reportKey: '' } };
    const withReport = fakePorts({ [REPORT_KEY]: { capacity: CAPACITY } });
    await notify(event('success', state), withReport.ports, SETTINGS);
    expect(withReport.reads).toEqual([REPORT_KEY]);
    expect(withReport.published[0].text).toContain('Capacity: 3 running computation(s)');

    const missing = fakePorts({});
    await notify(event('success', FULL), missing.ports, SETTINGS);
    expect(missing.published[0].text).not.toContain('Capacity:');
  });

  test('no expected agent version: "not compared"; no changes: approval "not needed"', async () => {
    const state: RunState = {
      ...FULL,
      analysis: { ...FULL.analysis!, decision: 'no-changes', hasChanges: false, line: 'No changes.' },
      approval: undefined,
      apply: undefined,
      evaluation: { ...FULL.evaluation!, expectedAgentVersion: null, versionCompared: false },
    };
    const fake = fakePorts({});
    await notify(event('success', state), fake.ports, SETTINGS);
    expect(fake.published[0].text).toContain('Agent version: 0.16.20 (not compared: no expected version was given)');
    expect(fake.published[0].text).toContain('Approved by: not needed: no changes');
  });
});

describe('notify: failure', () => {
  test.each([
    ['Preflight', 'preflight', 'VersionError'],
    ['RenderWorkspace', 'workspace', 'States.TaskFailed'],
    ['Plan', 'plan', 'States.TaskFailed'],
    ['AnalyzePlan', 'analysis', 'States.TaskFailed'],
    ['Apply', 'apply', 'States.TaskFailed'],
    ['Verify', 'verify', 'States.TaskFailed'],
    ['EvaluateVerification', 'evaluation', 'VerificationError'],
  ] as const)('failed at %s: one notice to operators whose subject names the step', async (step, key, error) => {
    const fake = fakePorts();
    await expect(notify(event('failure', failedAt(key, { Error: error, Cause: 'it broke' })), fake.ports, SETTINGS)).resolves.toEqual({
      notified: ['operators'],
    });
    expect(fake.published).toHaveLength(1);
    expect(fake.published[0].topic).toBe('operators');
    expect(fake.published[0].subject).toBe(`Compute Gateway gw-prod: deployment failed at ${step} (${error})`);
    expect(fake.published[0].text).toContain(`failed at step ${step}.`);
    expect(fake.published[0].text).toContain(`Execution: ${EXEC_ARN}`);
    expect(allText(fake.published)).not.toContain(CANARY);
  });

  test('RequestApproval: ApprovalRejected, nothing applied', async () => {
    const fake = fakePorts();
    const state = failedAt('approval', { Error: 'ApprovalRejected', Cause: 'rejected by arn:aws:iam::123456789012:user/bob: not during business hours' });
    await notify(event('failure', state), fake.ports, SETTINGS);
    const { subject, text } = fake.published[0];
    expect(subject).toBe('Compute Gateway gw-prod: deployment failed at RequestApproval (ApprovalRejected)');
    expect(text).toContain('What happened: rejected by arn:aws:iam::123456789012:user/bob: not during business hours');
    expect(text).toContain('What to do: Nothing was applied. Start a new run when the plan is what you expect.');
    expect(text).toContain(`Log: CloudWatch log group ${SETTINGS.stepLogGroups.RequestApproval}`);
  });

  test('RecordDeployment: everything present, so "Terraform applied the plan"', async () => {
    const fake = fakePorts();
    await notify(event('failure', { ...FULL, error: { Error: 'States.TaskFailed', Cause: 'x' } }), fake.ports, SETTINGS);
    expect(fake.published[0].subject).toContain('failed at RecordDeployment');
    expect(fake.published[0].text).toContain('Terraform applied the plan before the failure');
  });

  test('a Lambda failure: its errorMessage, the advice by error name, and the Lambda\'s log group', async () => {
    const cause = JSON.stringify({
      errorType: 'VersionError',
      errorMessage: 'version 0.8.1 is already deployed; set allowRedeploy to deploy it again',
      trace: ['VersionError: version 0.8.1 is already deployed', '    at /var/task/index.js:1:1'],
    });
    const fake = fakePorts();
    await notify(event('failure', failedAt('preflight', { Error: 'VersionError', Cause: cause })), fake.ports, SETTINGS);
    const { text } = fake.published[0];
    expect(text.split('\n')[0]).toBe('Deployment of Compute Gateway "gw-prod" failed at step Preflight.');
    expect(text).toContain('Error: VersionError');
    expect(text).toContain('What happened: version 0.8.1 is already deployed; set allowRedeploy to deploy it again');
    expect(text).toContain('What to do: Start the run with the version you mean');
    expect(text).toContain('Nothing was applied.');
    expect(text).toContain('Log: CloudWatch log group /aws/lambda/GatewayDeployer-gw-prod-Preflight');
    expect(text).not.toContain('at /var/task');
    // No preflight result: no failure report to read.
    expect(fake.reads).toEqual([]);
  });

  const HELM_NAME_IN_USE = [
    'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]: Creating...',
    '╷',
    '│ Error: cannot re-use a name that is still in use',
    '│',
    '│   with module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0],',
  ].join('\n');
  const buildCause = (logs: Record<string, string>) =>
    JSON.stringify({
      Build: {
        Id: 'gw-prod-apply:77',
        BuildStatus: 'FAILED',
        Logs: logs,
        Phases: [
          { PhaseType: 'INSTALL', PhaseStatus: 'SUCCEEDED' },
          { PhaseType: 'BUILD', PhaseStatus: 'FAILED', Contexts: [{ Message: 'Error while executing command: node terraform-step.js apply. Reason: exit status 1' }] },
        ],
      },
    });
  const DEEP_LINK = 'https://console.aws.amazon.com/cloudwatch/home?region=eu-central-1#logEvent:group=/aws/codebuild/gw-prod-apply;stream=77';

  /** The plan.json Plan stored: the failing helm_release's name and namespace. */
  const planInstalling = (name: string, namespace: string) => ({
    resource_changes: [
      {
        address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]',
        mode: 'managed',
        type: 'helm_release',
        name: 'gateway_agent',
        change: { actions: ['create' as const], after: { name, namespace } },
      },
    ],
  });

  test.each(['plan', 'apply'] as const)('%s failure: reads reports/<gw>/<exec>/<step>-failure.json and uses its summary and the HOWTO\'s advice', async (step) => {
    const diagnosis = diagnoseTerraformFailure(HELM_NAME_IN_USE, { plan: planInstalling('apheris-gateway', 'apheris') });
    const key = `reports/gw-prod/${EXEC}/${step}-failure.json`;
    const fake = fakePorts({ [key]: { step, status: 'failed', exitCode: 1, ...diagnosis } });
    await notify(event('failure', failedAt(step, { Error: 'States.TaskFailed', Cause: buildCause({ DeepLink: DEEP_LINK }) })), fake.ports, SETTINGS);

    expect(fake.reads).toEqual([key]);
    const { subject, text } = fake.published[0];
    const State = step === 'plan' ? 'Plan' : 'Apply';
    expect(subject).toBe(`Compute Gateway gw-prod: deployment failed at ${State} (States.TaskFailed)`);
    expect(text).toContain(
      "What happened: the gateway's Helm release apheris-gateway (namespace apheris) exists on the cluster but not in the Terraform state " +
        '(build gw-prod-apply:77 FAILED in phase BUILD: Error while executing command: node terraform-step.js apply. Reason: exit status 1)',
    );
    expect(text).toContain(
      'What to do: As the FAQ of the HOWTO "Deploying on AWS EKS" says: make sure the Helm release apheris-gateway is not managed by another system first. ' +
        'Then uninstall it (helm uninstall apheris-gateway -n apheris) and run the deployment again',
    );
    expect(text).toContain(`Log: ${DEEP_LINK}`);
    expect(text).toContain(step === 'plan' ? 'Nothing was applied.' : 'Terraform may have applied part of the plan before it failed');
  });

  test('the name reuse of another release: the notice names it and its own command, never the gateway\'s uninstall', async () => {
    const diagnosis = diagnoseTerraformFailure(HELM_NAME_IN_USE, { plan: planInstalling('prometheus', 'monitoring') });
    const key = `reports/gw-prod/${EXEC}/apply-failure.json`;
    const fake = fakePorts({ [key]: { step: 'apply', status: 'failed', exitCode: 1, ...diagnosis } });
    await notify(event('failure', failedAt('apply', { Error: 'States.TaskFailed', Cause: buildCause({ DeepLink: DEEP_LINK }) })), fake.ports, SETTINGS);

    const { text } = fake.published[0];
    expect(text).toContain('What happened: the Helm release prometheus (namespace monitoring)');
    expect(text).toContain('helm uninstall prometheus -n monitoring');
    expect(text).not.toContain('helm uninstall apheris-gateway');
    expect(text).not.toMatch(/seed/i);
  });

  test('a Plan failure without a failure report (setup failed): the build\'s own message and the generic advice', async () => {
    const fake = fakePorts({});
    await notify(event('failure', failedAt('plan', { Error: 'States.TaskFailed', Cause: buildCause({ DeepLink: DEEP_LINK }) })), fake.ports, SETTINGS);
    expect(fake.reads).toEqual([`reports/gw-prod/${EXEC}/plan-failure.json`]);
    expect(fake.published[0].text).toContain('What happened: build gw-prod-apply:77 FAILED in phase BUILD: Error while executing command');
    expect(fake.published[0].text).toContain('What to do: Look at the log of the failed step; start a new run once the cause is fixed.');
  });

  // The stack lets Notify s3:GetObject reports/* but not s3:ListBucket, so S3 answers a missing failure report
  // (a Plan or Apply that failed in setup, or timed out) with 403 AccessDenied rather than NoSuchKey. The notice
  // must still go out: a failure to read the diagnosis must not hide the run's failure.
  test('a failure report that cannot be read (AccessDenied) does not prevent the notice', async () => {
    const accessDenied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const fake = fakePorts({}, { readJson: async () => Promise.reject(accessDenied) });
    await notify(event('failure', failedAt('plan', { Error: 'States.TaskFailed', Cause: buildCause({ DeepLink: DEEP_LINK }) })), fake.ports, SETTINGS).catch(() => undefined);
    expect(fake.published).toHaveLength(1);
    expect(fake.published[0].subject).toContain('failed at Plan');
    expect(fake.records).toHaveLength(1);
  });

  describe('log location', () => {
    test('the build\'s deep link first', async () => {
      const fake = fakePorts();
      const cause = buildCause({ DeepLink: DEEP_LINK, GroupName: '/aws/codebuild/gw-prod-verify', StreamName: '77' });
      await notify(event('failure', failedAt('verify', { Error: 'States.TaskFailed', Cause: cause })), fake.ports, SETTINGS);
      expect(fake.published[0].text).toContain(`Log: ${DEEP_LINK}\n`);
    });

    test('then the build\'s log group and stream', async () => {
      const fake = fakePorts();
      const cause = buildCause({ GroupName: '/aws/codebuild/gw-prod-verify', StreamName: '77' });
      await notify(event('failure', failedAt('verify', { Error: 'States.TaskFailed', Cause: cause })), fake.ports, SETTINGS);
      expect(fake.published[0].text).toContain('Log: CloudWatch log group /aws/codebuild/gw-prod-verify, stream 77\n');
    });

    test('then the failed Lambda\'s log group from the settings', async () => {
      const fake = fakePorts();
      await notify(event('failure', failedAt('evaluation', { Error: 'VerificationError', Cause: JSON.stringify({ errorType: 'VerificationError', errorMessage: 'agent version mismatch' }) })), fake.ports, SETTINGS);
      expect(fake.published[0].text).toContain('Log: CloudWatch log group /aws/lambda/GatewayDeployer-gw-prod-EvaluateVerification\n');
      expect(fake.published[0].text).toContain('What to do: Check the agent as the HOWTO describes');
    });

    test('else the execution history', async () => {
      const fake = fakePorts();
      await notify(event('failure', failedAt('verify', { Error: 'States.Timeout', Cause: 'the build timed out' })), fake.ports, SETTINGS);
      expect(fake.published[0].text).toContain('Log: the execution history of the run\n');
      expect(fake.published[0].text).toContain('What to do: The step took longer than allowed');
    });
  });

  test('a run that failed before Apply is recorded as history only: failed step, error, versions', async () => {
    const fake = fakePorts();
    await notify(event('failure', failedAt('apply', { Error: 'States.TaskFailed', Cause: 'x' })), fake.ports, SETTINGS);
    expect(fake.applied).toEqual([]);
    expect(fake.records).toHaveLength(1);
    expect(fake.records[0]).toMatchObject({ outcome: 'failed', failedStep: 'Apply', fromVersion: '0.8.1', toVersion: '0.9.0' });
    expect(fake.published[0].text).not.toContain('recorded as the deployed version');
  });

  test('applied, then failed at Verify: 0.9.0 is recorded as deployed, not verified, and the notice says how to go on', async () => {
    const fake = fakePorts();
    await notify(event('failure', failedAt('verify', { Error: 'States.TaskFailed', Cause: 'x' })), fake.ports, SETTINGS);
    expect(fake.records).toEqual([]);
    expect(fake.applied).toHaveLength(1);
    expect(fake.applied[0].verification).toBe('not verified: failed at Verify (States.TaskFailed)');
    expect(fake.applied[0].record).toMatchObject({
      gateway: 'gw-prod',
      outcome: 'failed',
      failedStep: 'Verify',
      error: 'States.TaskFailed',
      executionArn: EXEC_ARN,
      executionName: EXEC,
      startedAt: '2024-06-01T09:00:00.000Z',
      finishedAt: NOW.toISOString(),
      fromVersion: '0.8.1',
      toVersion: '0.9.0',
      approvedBy: 'arn:aws:iam::123456789012:user/alice',
      agentVersion: '',
    });
    const text = fake.published[0].text;
    expect(text).not.toContain('history could not be written');
    expect(text).toContain('0.9.0 is now recorded as the deployed version, not verified: the next runs compare against it.');
    expect(text).toContain('npx gateway-deployer start --version 0.9.0 --allow-redeploy --reason "verify again"');
    expect(text).toContain('Going back to 0.8.1 is a downgrade: it needs --allow-downgrade and its own approval.');
  });

  test('a drift check or detach-vpc that fails records no deployed version', async () => {
    const state = failedAt('verify', { Error: 'States.TaskFailed', Cause: 'x' });
    const fake = fakePorts();
    await notify(event('failure', { ...state, preflight: { ...state.preflight!, operation: 'drift-check' } }), fake.ports, SETTINGS);
    expect(fake.applied).toEqual([]);
  });

  test('a failing CURRENT write is said in the notice, and the notice does not claim the version was recorded', async () => {
    const fake = fakePorts({}, { recordApplied: async () => Promise.reject(new Error('TransactionCanceledException')) });
    await notify(event('failure', failedAt('verify', { Error: 'States.TaskFailed', Cause: 'x' })), fake.ports, SETTINGS);
    expect(fake.published[0].text).not.toContain('now recorded as the deployed version');
    expect(fake.published[0].text.endsWith('\n(The deployment history could not be written.)')).toBe(true);
  });

  test('a failing history write does not prevent the notice; the text says the history could not be written', async () => {
    const fake = fakePorts({}, { recordRun: async () => Promise.reject(new Error('ProvisionedThroughputExceededException')) });
    await expect(notify(event('failure', failedAt('apply', { Error: 'States.TaskFailed', Cause: 'x' })), fake.ports, SETTINGS)).resolves.toEqual({
      notified: ['operators'],
    });
    expect(fake.published).toHaveLength(1);
    expect(fake.published[0].text.endsWith('\n(The deployment history could not be written.)')).toBe(true);
  });

  test('no error at all: "unknown", with the generic advice', async () => {
    const fake = fakePorts();
    await notify(event('failure', { lock: FULL.lock, preflight: FULL.preflight }), fake.ports, SETTINGS);
    expect(fake.published[0].subject).toBe('Compute Gateway gw-prod: deployment failed at RenderWorkspace (unknown)');
    expect(fake.published[0].text).toContain('What happened: no cause was given');
  });
});

describe('notify: failure at AcquireLock (another run holds the lock)', () => {
  const HOLDER = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-41';
  const cause = JSON.stringify({
    errorType: 'DeploymentInProgress',
    errorMessage: `deployment in progress: ${HOLDER} (running since 2024-06-01T08:00:00.000Z)`,
    trace: ['DeploymentInProgress: deployment in progress', '    at /var/task/index.js:1:1'],
  });
  const refused: RunState = { request: FULL.request, error: { Error: 'DeploymentInProgress', Cause: cause } };

  test('operators are told which run holds the lock; no history item is recorded for the refused run', async () => {
    const fake = fakePorts();
    await expect(notify(event('failure', refused), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['operators'] });
    expect(fake.records).toEqual([]);
    expect(fake.reads).toEqual([]);
    expect(fake.published).toHaveLength(1);
    const { topic, subject, text } = fake.published[0];
    expect(topic).toBe('operators');
    expect(subject).toBe('Compute Gateway gw-prod: deployment failed at AcquireLock (DeploymentInProgress)');
    expect(text.split('\n')[0]).toBe('Deployment of Compute Gateway "gw-prod" failed at step AcquireLock.');
    expect(text).toContain(`What happened: deployment in progress: ${HOLDER} (running since 2024-06-01T08:00:00.000Z)`);
    expect(text).toContain('Nothing was applied.');
    expect(text).toContain(`Log: CloudWatch log group ${SETTINGS.stepLogGroups.AcquireLock}`);
    // Nothing failed to write: the history was not meant to be written.
    expect(text).not.toContain('history could not be written');
    expect(text).not.toContain('/var/task');
  });

  test('AcquireLock failing for another reason (no lock result) is not recorded either', async () => {
    const fake = fakePorts();
    await notify(event('failure', { request: FULL.request, error: { Error: 'States.TaskFailed', Cause: 'throttled' } }), fake.ports, SETTINGS);
    expect(fake.published[0].subject).toBe('Compute Gateway gw-prod: deployment failed at AcquireLock (States.TaskFailed)');
    expect(fake.records).toEqual([]);
  });

  test('a run that got the lock and failed later is still recorded', async () => {
    const fake = fakePorts();
    await notify(event('failure', failedAt('preflight', { Error: 'VersionError', Cause: 'x' })), fake.ports, SETTINGS);
    expect(fake.records).toHaveLength(1);
    expect(fake.records[0]).toMatchObject({ failedStep: 'Preflight', error: 'VersionError' });
  });
});

describe('notify: drift', () => {
  const DRIFT_CHANGES = [
    { address: 'module.gateway.aws_security_group_rule.egress', action: 'update' },
    { address: 'module.gateway.module.eks.aws_eks_node_group.gpu', action: 'replace' },
    { address: 'module.gateway.aws_iam_role_policy.extra', action: 'delete' },
  ];
  const DRIFT: RunState = {
    request: { operation: 'drift-check' },
    lock: FULL.lock,
    preflight: { ...FULL.preflight!, version: '0.9.0', previousVersion: '0.9.0', change: 'redeploy', operation: 'drift-check', trigger: 'schedule' },
    workspace: FULL.workspace,
    plan: FULL.plan,
    analysis: {
      ...FULL.analysis!,
      line: 'Plan: 0 to add, 2 to change, 1 to destroy.',
      hasChanges: true,
      changes: DRIFT_CHANGES,
      changesNotListed: 4,
    },
  };

  test('an empty plan: no mail at all, nothing recorded', async () => {
    const fake = fakePorts();
    const clean = { ...DRIFT, analysis: { ...DRIFT.analysis!, decision: 'no-changes', hasChanges: false, line: 'No changes.', changes: [], changesNotListed: 0 } };
    await expect(notify(event('drift', clean), fake.ports, SETTINGS)).resolves.toEqual({ notified: [] });
    expect(fake.published).toEqual([]);
    expect(fake.records).toEqual([]);
  });

  test('changes: operators only (never support), with the summary, each change, the plan and the way back', async () => {
    const fake = fakePorts();
    await expect(notify(event('drift', DRIFT), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['operators'] });
    expect(fake.published.map((p) => p.topic)).toEqual(['operators']);
    expect(fake.records).toEqual([]);
    const { subject, text } = fake.published[0];
    expect(subject).toBe('Compute Gateway gw-prod: drift detected. Plan: 0 to add, 2 to change, 1 to destroy.');
    const lines = text.split('\n');
    expect(lines[0]).toBe('Compute Gateway "gw-prod" has drifted from its configuration and module 0.9.0.');
    expect(lines).toContain('Plan: 0 to add, 2 to change, 1 to destroy.');
    expect(lines).toContain('  ~   module.gateway.aws_security_group_rule.egress');
    expect(lines).toContain('  -/+ module.gateway.module.eks.aws_eks_node_group.gpu');
    expect(lines).toContain('  -   module.gateway.aws_iam_role_policy.extra');
    expect(lines).toContain('  … and 4 more (see the full plan)');
    expect(text).toContain('Nothing was applied.');
    expect(lines).toContain('  npx gateway-deployer start --version 0.9.0 --allow-redeploy --reason "revert drift"');
    expect(lines).toContain(`Full plan (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/${EXEC}/plan.redacted.txt`);
    expect(lines).toContain(`Execution: ${EXEC_ARN}`);
    expect(allText(fake.published)).not.toContain(CANARY);
  });

  test('no analysis at all (should not reach NotifyDrift): no mail rather than a broken one', async () => {
    const fake = fakePorts();
    const { analysis: _a, ...noAnalysis } = DRIFT;
    await expect(notify(event('drift', noAnalysis), fake.ports, SETTINGS)).resolves.toEqual({ notified: [] });
    expect(fake.published).toEqual([]);
  });
});

describe('notify: detached', () => {
  const VPC_ADDRESSES = ['module.gateway.module.vpc.aws_vpc.this[0]', 'module.gateway.module.vpc.aws_subnet.private[0]', 'module.gateway.module.vpc.aws_nat_gateway.this[0]'];
  const BACKUP_KEY = `state-backups/gw-prod/${EXEC}/terraform.tfstate`;
  const DETACHED: RunState = {
    request: { operation: 'detach-vpc' },
    lock: FULL.lock,
    preflight: { ...FULL.preflight!, version: '0.9.0', previousVersion: '0.9.0', change: 'redeploy', operation: 'detach-vpc', reason: 'VPC handed to the network team' },
    workspace: FULL.workspace,
    plan: FULL.plan,
    analysis: {
      ...FULL.analysis!,
      line: 'Plan: 0 to add, 0 to change, 3 to destroy.',
      risk: { level: 'high', reasons: [CANARY] },
      changes: VPC_ADDRESSES.map((address) => ({ address, action: 'delete' })),
      changesNotListed: 0,
    },
    approval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:user/alice', reason: 'network team owns it now', decidedAt: '2024-06-01T10:00:00.000Z' },
    detach: { buildId: 'gw-apply:9', exported: exported({ STEP_STATUS: 'succeeded', STATE_BACKUP_KEY: BACKUP_KEY, OTHER: CANARY }) },
  };

  test('the DetachVpc build ran: a history item with change detach-vpc, and operators get the addresses and the backup', async () => {
    const fake = fakePorts();
    await expect(notify(event('detached', DETACHED), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['operators'] });

    expect(fake.records).toHaveLength(1);
    expect(fake.records[0]).toMatchObject({
      gateway: 'gw-prod',
      outcome: 'succeeded',
      change: 'detach-vpc',
      planSummary: 'Plan: 0 to add, 0 to change, 3 to destroy.',
      executionArn: EXEC_ARN,
      executionName: EXEC,
      startedAt: '2024-06-01T09:00:00.000Z',
      finishedAt: NOW.toISOString(),
      approvedBy: 'arn:aws:iam::123456789012:user/alice',
      approvalReason: 'network team owns it now',
      reason: 'VPC handed to the network team',
      failedStep: '',
      error: '',
    });

    expect(fake.published.map((p) => p.topic)).toEqual(['operators']);
    const { subject, text } = fake.published[0];
    expect(subject).toBe('Compute Gateway gw-prod: VPC detached from the Terraform state (3 resources)');
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'Compute Gateway "gw-prod": 3 module.vpc resource(s) removed from the Terraform state (approved by arn:aws:iam::123456789012:user/alice).',
    );
    expect(lines).toContain('Nothing was destroyed in AWS: the VPC is now yours to manage.');
    for (const address of VPC_ADDRESSES) expect(lines).toContain(`  ${address}`);
    expect(lines).toContain(`State backup from before the removal: s3://gw-state-123456789012/${BACKUP_KEY}`);
    expect(text).toContain('set module.create_vpc = false with module.vpc_id and module.node_subnet_ids');
    expect(lines).toContain(`Execution: ${EXEC_ARN}`);
    expect(allText(fake.published)).not.toContain(CANARY);
  });

  test('the build exported no backup key: the message says so instead of inventing a location', async () => {
    const fake = fakePorts();
    await notify(event('detached', { ...DETACHED, detach: { buildId: 'gw-apply:9', exported: exported({ STEP_STATUS: 'succeeded' }) } }), fake.ports, SETTINGS);
    expect(fake.published[0].text).toContain('State backup from before the removal: (not reported; see the build log)');
    expect(fake.records).toHaveLength(1);
  });

  test('nothing in module.vpc (DetachVpc did not run): "nothing was detached", no history item', async () => {
    const fake = fakePorts();
    const { approval: _a, detach: _d, ...empty } = DETACHED;
    const state: RunState = { ...empty, analysis: { ...DETACHED.analysis!, decision: 'no-changes', hasChanges: false, line: 'No changes.', changes: [] } };
    await expect(notify(event('detached', state), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['operators'] });
    expect(fake.records).toEqual([]);
    expect(fake.published).toHaveLength(1);
    expect(fake.published[0]).toEqual({
      topic: 'operators',
      subject: 'Compute Gateway gw-prod: nothing to detach from the VPC module',
      text: `Compute Gateway "gw-prod": the Terraform state holds no module.vpc resources; nothing was detached.\nExecution: ${EXEC_ARN}`,
    });
  });

  test('addresses come only from a run whose DetachVpc build ran: an analysis listing changes without it detaches nothing', async () => {
    const fake = fakePorts();
    const { detach: _d, ...notDetached } = DETACHED;
    await notify(event('detached', notDetached), fake.ports, SETTINGS);
    expect(fake.records).toEqual([]);
    expect(fake.published[0].text).toContain('nothing was detached');
    expect(fake.published[0].text).not.toContain('module.gateway.module.vpc.aws_vpc.this[0]');
  });
});

describe('notify: success, the external data buckets (the HOWTO\'s bucket policies for the DAL role)', () => {
  const DAL_ROLE = 'arn:aws:iam::123456789012:role/gw-prod-dal';
  const APPLY_KEY = `reports/gw-prod/${EXEC}/apply.json`;
  const OUTPUTS_KEY = `plans/gw-prod/${EXEC}/outputs.json`;
  /** The Apply report as the build wrote it; the CANARY stands for anything else in it. */
  const APPLY_REPORT = {
    status: 'applied',
    outputs: { cluster_name: 'gw-prod', endpoint: `https://${CANARY}.eks.amazonaws.com`, dal_role_arn: DAL_ROLE, helm_login: '(redacted)' },
    sensitiveOutputs: ['kubeconfig'],
    dataBuckets: ['imaging-data', 'genomics-data'],
    dataBucketPolicies: Object.fromEntries(
      ['imaging-data', 'genomics-data'].map((bucket) => [
        bucket,
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: [DAL_ROLE] }, Action: ['s3:ListBucket', 's3:GetObject'], Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }],
        },
      ]),
    ),
  };
  const applied: RunState = { ...FULL, apply: { buildId: 'gw-apply:1', exported: exported({ STEP_STATUS: 'succeeded', APPLY_REPORT_KEY: APPLY_KEY }) } };

  test("after an Apply: operators get the role, the caveat and each policy exactly as the report holds it; support gets none of it", async () => {
    const fake = fakePorts({ [REPORT_KEY]: { capacity: CAPACITY }, [APPLY_KEY]: APPLY_REPORT });
    await notify(event('success', applied), fake.ports, SETTINGS);
    expect(fake.reads).toEqual([REPORT_KEY, APPLY_KEY]);
    const [support, operators] = fake.published;
    expect(operators.text).toContain(`DAL role: ${DAL_ROLE} (each policy lets it list the bucket and read its objects, nothing else)`);
    expect(operators.text).toContain("put-bucket-policy REPLACES the bucket's whole policy: if the bucket already has one");
    for (const bucket of ['imaging-data', 'genomics-data']) {
      expect(operators.text).toContain(`Bucket ${bucket}: aws s3api put-bucket-policy --bucket ${bucket} --policy file://dal-policy-${bucket}.json`);
      expect(operators.text).toContain(`dal-policy-${bucket}.json:\n${JSON.stringify(APPLY_REPORT.dataBucketPolicies[bucket], null, 2)}`);
    }
    expect(operators.text).not.toContain('from the plan');
    // The customer's own data access: not in the mail to Apheris support.
    expect(support.text).not.toContain(DAL_ROLE);
    expect(support.text).not.toContain('imaging-data');
    // Nothing else from the report: no other output, no sensitive output's name.
    expect(allText(fake.published)).not.toContain(CANARY);
    expect(allText(fake.published)).not.toContain('kubeconfig');
    expect(allText(fake.published)).not.toContain('(redacted)');
  });

  test("nothing to apply: the Plan's outputs.json, said to be the deployed gateway's", async () => {
    const state: RunState = {
      ...FULL,
      plan: { buildId: 'gw-plan:1', exported: exported({ STEP_STATUS: 'succeeded', PLAN_PREFIX: `plans/gw-prod/${EXEC}/` }) },
      analysis: { ...FULL.analysis!, decision: 'no-changes', hasChanges: false, line: 'No changes.' },
      approval: undefined,
      apply: undefined,
    };
    const { status: _, sensitiveOutputs: __, ...planOutputs } = APPLY_REPORT;
    const fake = fakePorts({ [OUTPUTS_KEY]: planOutputs });
    await notify(event('success', state), fake.ports, SETTINGS);
    expect(fake.reads).toContain(OUTPUTS_KEY);
    const operators = fake.published[1].text;
    expect(operators).toContain("Nothing was applied in this run: these are the deployed gateway's role and policies, from the plan's outputs.");
    expect(operators).toContain(JSON.stringify(APPLY_REPORT.dataBucketPolicies['imaging-data'], null, 2));
  });

  test('no external buckets, or a run without an Apply report: no DAL part at all', async () => {
    const none = fakePorts({ [APPLY_KEY]: { ...APPLY_REPORT, dataBuckets: [], dataBucketPolicies: {} } });
    await notify(event('success', applied), none.ports, SETTINGS);
    expect(none.published[1].text).not.toMatch(/bucket/i);

    const noReport = fakePorts({});
    await notify(event('success', FULL), noReport.ports, SETTINGS);
    expect(noReport.reads).not.toContain(APPLY_KEY);
    expect(noReport.published[1].text).not.toMatch(/bucket/i);
  });

  test('a policy that grants more than the HOWTO\'s is not passed on: operators hear that none can be given', async () => {
    const tampered = JSON.parse(JSON.stringify(APPLY_REPORT));
    tampered.dataBucketPolicies['genomics-data'].Statement[0].Action = ['s3:*'];
    const fake = fakePorts({ [APPLY_KEY]: tampered });
    await notify(event('success', applied), fake.ports, SETTINGS);
    const operators = fake.published[1].text;
    expect(operators).toContain('External data buckets (module.additional_data_buckets): imaging-data, genomics-data.');
    expect(operators).toContain("No bucket policy can be given for them: the policy stored for bucket genomics-data is not the HOWTO's");
    expect(operators).not.toContain('s3:*');
    expect(operators).not.toContain('"Statement"');
  });

  test('a report that cannot be read costs one line, never the success notice', async () => {
    const fake = fakePorts({}, {
      readJson: async (key) => {
        if (key === APPLY_KEY) throw Object.assign(new Error('denied'), { name: 'AccessDenied' });
        return null;
      },
    });
    await expect(notify(event('success', applied), fake.ports, SETTINGS)).resolves.toEqual({ notified: ['support', 'operators'] });
    expect(fake.published[1].text).toContain(`(s3://${SETTINGS.artifactsBucket}/${APPLY_KEY} could not be read for the bucket policies of the external data buckets, if any: AccessDenied.`);
  });
});

describe('notify: success, the e-mail subscriptions (best effort)', () => {
  const SUPPORT = 'arn:aws:sns:eu-central-1:123456789012:Support';
  const OPERATORS = 'arn:aws:sns:eu-central-1:123456789012:Operators';
  const settings: NotifySettings = {
    ...SETTINGS,
    subscriptions: [
      { topic: 'support', topicArn: SUPPORT, configured: ['support@apheris.com'] },
      { topic: 'operators', topicArn: OPERATORS, configured: ['ops@example.com'] },
    ],
  };

  test("support unconfirmed: both mails go out, and the operators' one says the wrap-up did not reach support", async () => {
    const listSubscriptions = async (arn: string) =>
      arn === SUPPORT ? [{ SubscriptionArn: 'PendingConfirmation', Protocol: 'email', Endpoint: 'support@apheris.com' }] : [{ SubscriptionArn: `${arn}:1`, Protocol: 'email', Endpoint: 'ops@example.com' }];
    const fake = fakePorts({ [REPORT_KEY]: { capacity: CAPACITY } }, { listSubscriptions });
    await notify(event('success', FULL), fake.ports, settings);
    expect(fake.published.map((p) => p.topic)).toEqual(['support', 'operators']);
    expect(fake.published[1].text).toContain("support@apheris.com has not confirmed its subscription to the support topic: this run's wrap-up mail did not reach it");
    expect(fake.published[1].text).toContain('npx gateway-deployer subscriptions --resend');
    expect(fake.published[0].text).not.toContain('subscription');
  });

  test('a check that fails: both mails still go out, the operators\' one says it was not checked', async () => {
    const fake = fakePorts({}, { listSubscriptions: async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })) });
    await notify(event('success', FULL), fake.ports, settings);
    expect(fake.published.map((p) => p.topic)).toEqual(['support', 'operators']);
    expect(fake.published[1].text).toContain('E-mail subscriptions: not checked (Throttling: Rate exceeded); the check is best effort');
  });

  test('the failure notice does not check (RunEnded shares it and has no such permission)', async () => {
    const listSubscriptions = jest.fn(async () => []);
    const fake = fakePorts({}, { listSubscriptions });
    await notify(event('failure', failedAt('plan', { Error: 'States.TaskFailed' })), fake.ports, settings);
    expect(listSubscriptions).not.toHaveBeenCalled();
  });
});
