/**
 * The end of a run against moto: the real RecordDeployment handler writes the history item and the CURRENT item
 * Preflight reads; the real Notify handler reads the verification report from S3, publishes through real (moto)
 * SNS topics and records a failed run in the table.
 */
import { randomBytes } from 'node:crypto';
import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { NotifyEvent } from '../../lambdas/notify/notify';
import type { RecordEvent } from '../../lambdas/record-deployment/index';
import type { RunState } from '../../lambdas/shared/domain/run-state';
import { capacityReport } from '../../lambdas/shared/domain/verification';
import { TEST_REGION, createBucket, createTable, dynamoDbClient, getObjectText, motoEndpoint, putObject, s3Client } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const SUFFIX = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const TABLE = `gw-deployments-${SUFFIX}`;
const BUCKET = `gw-artifacts-${SUFFIX}`.toLowerCase();
const GATEWAY = 'gw-it';
const STEP_LOG_GROUPS = { Preflight: '/aws/lambda/GatewayDeployer-gw-it-Preflight', RecordDeployment: '/aws/lambda/GatewayDeployer-gw-it-RecordDeployment' };

let recordHandler: (event: RecordEvent) => Promise<{ recordedAt: string; version: string }>;
let notifyHandler: (event: NotifyEvent) => Promise<{ notified: string[] }>;
let readDeployedVersion: (table: string, gateway: string) => Promise<string | null>;
let supportTopicArn: string;
let operatorsTopicArn: string;
let publishSpy: jest.SpyInstance;
const ENV_NAMES = ['ARTIFACTS_BUCKET', 'DEPLOYMENTS_TABLE', 'SUPPORT_TOPIC_ARN', 'OPERATORS_TOPIC_ARN', 'ACCOUNT_ID', 'STEP_LOG_GROUPS', 'POWERTOOLS_DEV', 'TF_STATE_BUCKET', 'TF_STATE_KEY', 'TF_USE_LOCKFILE', 'TERRAFORM_PROJECTS'];
/** Terraform's state, in the artifacts bucket here: where a killed Apply build leaves its lock file. */
const STATE_KEY = 'gateways/gw-it/terraform.tfstate';
const savedRegion = process.env.AWS_REGION;

const executionArn = (name: string) => `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:${name}`;
const reportKey = (name: string) => `reports/${GATEWAY}/${name}/verification.json`;
const exported = (vars: Record<string, string>) => Object.entries(vars).map(([Name, Value]) => ({ Name, Value }));

/** A run that got all the way through, as the state machine hands it to RecordDeployment and NotifySuccess. */
function fullState(executionName: string): RunState {
  return {
    request: { version: '0.9.0', expectedAgentVersion: 'v0.16.20', reason: 'quarterly upgrade' },
    lock: { acquiredAt: '2024-06-01T09:00:01.000Z' },
    preflight: {
      gateway: GATEWAY,
      version: '0.9.0',
      change: 'upgrade',
      previousVersion: '0.8.1',
      bundle: { key: 'releases/gateway-0.9.0.zip', sha256: 'c0ffee'.padEnd(64, '0') },
      trigger: 'cli',
      reason: 'quarterly upgrade',
      expectedAgentVersion: 'v0.16.20',
    },
    workspace: { workspacePrefix: `workspaces/${GATEWAY}/${executionName}/` },
    plan: { buildId: `${GATEWAY}-plan:1`, exported: exported({ STEP_STATUS: 'succeeded' }) },
    analysis: {
      line: 'Plan: 1 to add, 2 to change, 0 to destroy.',
      decision: 'approval',
      because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
      hasChanges: true,
      risk: { level: 'low', reasons: [] },
      planTextKey: `plans/${GATEWAY}/${executionName}/plan.redacted.txt`,
    },
    approval: { approved: true, decidedBy: `arn:aws:iam::${ACCOUNT}:user/alice`, reason: 'reviewed the plan', decidedAt: '2024-06-01T09:40:00.000Z' },
    apply: { buildId: `${GATEWAY}-apply:1`, exported: exported({ STEP_STATUS: 'succeeded', APPLY_REPORT_KEY: `reports/${GATEWAY}/${executionName}/apply.json` }) },
    verify: { buildId: `${GATEWAY}-verify:1`, exported: exported({ STEP_STATUS: 'succeeded', VERIFICATION_REPORT_KEY: reportKey(executionName) }) },
    evaluation: {
      agentVersion: '0.16.20',
      agentImage: 'quay.io/apheris/gateway-agent:0.16.20',
      agentDigest: '',
      expectedAgentVersion: 'v0.16.20',
      versionCompared: true,
      rollout: '2/2 replicas ready, 2/2 updated',
      connectivity: 'passed',
      connectivityDetail: 'connectivity test pod Succeeded',
      reportKey: reportKey(executionName),
    },
  };
}

const facts = (executionName: string, startTime: string) => ({
  gateway: GATEWAY,
  executionArn: executionArn(executionName),
  executionName,
  startTime,
});

async function getItem(pk: string, sk: string): Promise<Record<string, AttributeValue> | undefined> {
  const ddb = dynamoDbClient();
  try {
    return (await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }))).Item;
  } finally {
    ddb.destroy();
  }
}

async function historyItems(): Promise<Array<Record<string, AttributeValue>>> {
  const ddb = dynamoDbClient();
  try {
    const out = await ddb.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :run)',
        ExpressionAttributeValues: { ':pk': { S: `GATEWAY#${GATEWAY}` }, ':run': { S: 'RUN#' } },
        ConsistentRead: true,
      }),
    );
    return out.Items ?? [];
  } finally {
    ddb.destroy();
  }
}

/** The PublishCommands sent since the last mockClear, and the promises of their answers. */
function publishes(): Array<{ input: PublishCommand['input']; result: Promise<{ MessageId?: string }> }> {
  return publishSpy.mock.calls
    .map(([command], i) => ({ command, result: publishSpy.mock.results[i].value }))
    .filter((c): c is { command: PublishCommand; result: Promise<{ MessageId?: string }> } => c.command instanceof PublishCommand)
    .map((c) => ({ input: c.command.input, result: c.result }));
}

beforeAll(async () => {
  await createTable(TABLE);
  await createBucket(BUCKET);
  const sns = new SNSClient({ endpoint: motoEndpoint(), region: TEST_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    const support = await sns.send(new CreateTopicCommand({ Name: `gw-support-${SUFFIX}` }));
    const operators = await sns.send(new CreateTopicCommand({ Name: `gw-operators-${SUFFIX}` }));
    if (!support.TopicArn || !operators.TopicArn) throw new Error('moto returned no TopicArn');
    supportTopicArn = support.TopicArn;
    operatorsTopicArn = operators.TopicArn;
  } finally {
    sns.destroy();
  }

  // Records what the handler publishes while still sending it to moto.
  publishSpy = jest.spyOn(SNSClient.prototype, 'send');

  // The handlers read their settings and build their clients at import time, so they are imported only now.
  Object.assign(process.env, {
    ARTIFACTS_BUCKET: BUCKET,
    DEPLOYMENTS_TABLE: TABLE,
    SUPPORT_TOPIC_ARN: supportTopicArn,
    OPERATORS_TOPIC_ARN: operatorsTopicArn,
    ACCOUNT_ID: ACCOUNT,
    AWS_REGION: TEST_REGION,
    STEP_LOG_GROUPS: JSON.stringify(STEP_LOG_GROUPS),
    POWERTOOLS_DEV: 'true',
    TF_STATE_BUCKET: BUCKET,
    TF_STATE_KEY: STATE_KEY,
    TF_USE_LOCKFILE: 'true',
    TERRAFORM_PROJECTS: 'gw-it-plan,gw-it-apply,gw-it-verify',
  });
  captureConsole();
  ({ handler: recordHandler } = await import('../../lambdas/record-deployment/index'));
  ({ handler: notifyHandler } = await import('../../lambdas/notify/index'));
  ({ readDeployedVersion } = await import('../../lambdas/shared/adapters/deployment-table'));
});

afterAll(async () => {
  // Notify's own SNS client is not exported; the spy saw it as `this`.
  const snsClients = new Set(publishSpy?.mock.instances ?? []);
  await destroyAdapterClients();
  for (const client of snsClients) (client as SNSClient).destroy();
  jest.restoreAllMocks();
  for (const name of ENV_NAMES) delete process.env[name];
  process.env.AWS_REGION = savedRegion;
});

beforeEach(() => {
  publishSpy.mockClear();
});

describe('RecordDeployment handler against moto', () => {
  test('writes the history item and the CURRENT item; Preflight then reads the new version', async () => {
    const name = 'run-record-1';
    const startTime = '2024-06-01T09:00:00.000Z';
    expect(await readDeployedVersion(TABLE, GATEWAY)).toBeNull();

    const result = await recordHandler({ ...facts(name, startTime), state: fullState(name) });
    expect(result.version).toBe('0.9.0');
    expect(Number.isNaN(Date.parse(result.recordedAt))).toBe(false);

    const history = await getItem(`GATEWAY#${GATEWAY}`, `RUN#${startTime}#${name}`);
    expect(history).toEqual({
      pk: { S: `GATEWAY#${GATEWAY}` },
      sk: { S: `RUN#${startTime}#${name}` },
      gateway: { S: GATEWAY },
      outcome: { S: 'succeeded' },
      executionArn: { S: executionArn(name) },
      executionName: { S: name },
      startedAt: { S: startTime },
      finishedAt: { S: result.recordedAt },
      trigger: { S: 'cli' },
      reason: { S: 'quarterly upgrade' },
      change: { S: 'upgrade' },
      fromVersion: { S: '0.8.1' },
      toVersion: { S: '0.9.0' },
      bundleKey: { S: 'releases/gateway-0.9.0.zip' },
      bundleSha256: { S: 'c0ffee'.padEnd(64, '0') },
      planSummary: { S: 'Plan: 1 to add, 2 to change, 0 to destroy.' },
      risk: { S: 'low' },
      approvedBy: { S: `arn:aws:iam::${ACCOUNT}:user/alice` },
      approvalReason: { S: 'reviewed the plan' },
      agentVersion: { S: '0.16.20' },
      agentImage: { S: 'quay.io/apheris/gateway-agent:0.16.20' },
      expectedAgentVersion: { S: 'v0.16.20' },
      connectivity: { S: 'passed' },
      // failedStep and error are empty on success, and empty strings are not written.
    });

    expect(await getItem(`GATEWAY#${GATEWAY}`, 'CURRENT')).toEqual({
      pk: { S: `GATEWAY#${GATEWAY}` },
      sk: { S: 'CURRENT' },
      version: { S: '0.9.0' },
      deployedAt: { S: result.recordedAt },
      executionArn: { S: executionArn(name) },
      bundleSha256: { S: 'c0ffee'.padEnd(64, '0') },
      verification: { S: 'verified' },
      agentVersion: { S: '0.16.20' },
    });

    // Preflight's view: the next run compares against 0.9.0.
    expect(await readDeployedVersion(TABLE, GATEWAY)).toBe('0.9.0');
  });

  test('a later run replaces CURRENT and adds a second history item', async () => {
    const name = 'run-record-2';
    const state = fullState(name);
    const next: RunState = { ...state, preflight: { ...state.preflight!, version: '0.9.1', previousVersion: '0.9.0' } };
    await recordHandler({ ...facts(name, '2024-06-02T09:00:00.000Z'), state: next });
    expect(await readDeployedVersion(TABLE, GATEWAY)).toBe('0.9.1');
    expect((await getItem(`GATEWAY#${GATEWAY}`, 'CURRENT'))?.executionArn).toEqual({ S: executionArn(name) });
    const runs = (await historyItems()).map((i) => i.sk.S);
    expect(runs).toEqual(expect.arrayContaining([`RUN#2024-06-01T09:00:00.000Z#run-record-1`, `RUN#2024-06-02T09:00:00.000Z#${name}`]));
  });
});

describe('Notify handler against moto', () => {
  test('success: the completion report to support, then the summary to operators, with the capacity from S3', async () => {
    const name = 'run-notify-success';
    const capacity = capacityReport(
      [{ metadata: { name: 'job-1', labels: { apheris_job_id: 'j1' } }, spec: { containers: [{ resources: { requests: { memory: '4Gi' } } }] } }],
      [{ metadata: { name: 'ip-10-0-1-5' }, status: { allocatable: { memory: '16Gi' } } }],
    );
    await putObject(BUCKET, reportKey(name), JSON.stringify({ gateway: GATEWAY, runId: name, capacity }));

    await expect(notifyHandler({ kind: 'success', ...facts(name, '2024-06-03T09:00:00.000Z'), state: fullState(name) })).resolves.toEqual({
      notified: ['support', 'operators'],
    });

    const sent = publishes();
    expect(sent.map((p) => p.input.TopicArn)).toEqual([supportTopicArn, operatorsTopicArn]);
    const [support, operators] = sent.map((p) => p.input);
    expect(support.Subject).toBe('Compute Gateway gw-it upgraded to 0.9.0: please run the smoke tests');
    expect(support.Message!.startsWith('Hello Apheris support,')).toBe(true);
    expect(support.Message).toContain(`(AWS account ${ACCOUNT}, ${TEST_REGION}) was upgraded from 0.8.1 to 0.9.0`);
    expect(support.Message).toContain('Agent version: 0.16.20, as communicated (v0.16.20)');
    expect(support.Message).toContain('Capacity: 1 running computation(s) request 4Gi of 16Gi allocatable node memory (25 %).');
    expect(support.Message).toContain('Please confirm the completion and run the smoke tests');
    expect(operators.Subject).toBe('Compute Gateway gw-it: upgraded to 0.9.0, verified');
    expect(operators.Message).toContain(`Full report: s3://${BUCKET}/${reportKey(name)}`);
    // moto accepted both.
    for (const p of sent) expect((await p.result).MessageId).toEqual(expect.any(String));
    // Success is recorded by RecordDeployment, not by Notify.
    expect((await historyItems()).filter((i) => i.executionName?.S === name)).toEqual([]);
  });

  test('failure: one notice to operators, and a failed history item in the table', async () => {
    const name = 'run-notify-failure';
    const startTime = '2024-06-04T09:00:00.000Z';
    const full = fullState(name);
    const state: RunState = {
      request: full.request,
      lock: full.lock,
      preflight: full.preflight,
      error: {
        Error: 'ConfigError',
        Cause: JSON.stringify({ errorType: 'ConfigError', errorMessage: 'the config names no state bucket', trace: ['ConfigError: …'] }),
      },
    };
    await expect(notifyHandler({ kind: 'failure', ...facts(name, startTime), state })).resolves.toEqual({ notified: ['operators'] });

    const sent = publishes();
    expect(sent).toHaveLength(1);
    expect(sent[0].input.TopicArn).toBe(operatorsTopicArn);
    expect(sent[0].input.Subject).toBe('Compute Gateway gw-it: deployment failed at RenderWorkspace (ConfigError)');
    expect(sent[0].input.Message).toContain('What happened: the config names no state bucket');
    expect(sent[0].input.Message).toContain('What to do: Correct the gateway config and redeploy the stack with cdk deploy.');
    // RenderWorkspace has no entry in this STEP_LOG_GROUPS: the execution history.
    expect(sent[0].input.Message).toContain('Log: the execution history of the run');
    expect(sent[0].input.Message).not.toContain('history could not be written');
    expect((await sent[0].result).MessageId).toEqual(expect.any(String));

    const item = await getItem(`GATEWAY#${GATEWAY}`, `RUN#${startTime}#${name}`);
    expect(item).toMatchObject({
      outcome: { S: 'failed' },
      failedStep: { S: 'RenderWorkspace' },
      error: { S: 'ConfigError' },
      executionArn: { S: executionArn(name) },
      fromVersion: { S: '0.8.1' },
      toVersion: { S: '0.9.0' },
      expectedAgentVersion: { S: 'v0.16.20' },
    });
    expect(item).not.toHaveProperty('agentVersion');
    // A failure before Apply never moves CURRENT (one after it does: rehearsal-faults.test.ts).
    expect(await readDeployedVersion(TABLE, GATEWAY)).toBe('0.9.1');
  });

  test('failure at Preflight: the Lambda log group from STEP_LOG_GROUPS', async () => {
    const name = 'run-notify-preflight';
    const cause = JSON.stringify({ errorType: 'VersionError', errorMessage: '0.9.1 is already deployed' });
    await notifyHandler({ kind: 'failure', ...facts(name, '2024-06-05T09:00:00.000Z'), state: { request: {}, lock: { acquiredAt: '2024-06-05T09:00:01.000Z' }, error: { Error: 'VersionError', Cause: cause } } });
    const [notice] = publishes();
    expect(notice.input.Message).toContain(`Log: CloudWatch log group ${STEP_LOG_GROUPS.Preflight}`);
    expect((await getItem(`GATEWAY#${GATEWAY}`, `RUN#2024-06-05T09:00:00.000Z#${name}`))?.failedStep).toEqual({ S: 'Preflight' });
  });

  test('an Apply build killed by its timeout: the Terraform lock it left is reported with its removal command, and kept', async () => {
    const lockId = '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9';
    await putObject(BUCKET, `${STATE_KEY}.tflock`, JSON.stringify({ ID: lockId, Operation: 'OperationTypeApply', Who: 'root@codebuild', Created: '2024-06-06T10:00:00Z' }));
    const name = 'run-notify-apply-timeout';
    const full = fullState(name);
    const build = (status: string) => JSON.stringify({ Build: { Id: 'gw-it-apply:9', BuildStatus: status, Phases: [{ PhaseType: 'BUILD', PhaseStatus: status }] } });
    const base: RunState = { request: full.request, lock: full.lock, preflight: full.preflight, workspace: full.workspace, plan: full.plan, analysis: full.analysis, approval: full.approval };
    try {
      await notifyHandler({ kind: 'failure', ...facts(name, '2024-06-06T11:00:00.000Z'), state: { ...base, error: { Error: 'States.TaskFailed', Cause: build('TIMED_OUT') } } });
      const [notice] = publishes();
      expect(notice.input.Subject).toBe('Compute Gateway gw-it: deployment failed at Apply (States.TaskFailed)');
      expect(notice.input.Message).toContain(`Terraform's state lock on s3://${BUCKET}/${STATE_KEY} is still held (ID ${lockId}, apply by root@codebuild`);
      expect(notice.input.Message).toContain(`terraform force-unlock -force ${lockId}`);
      expect(notice.input.Message).toContain('aws codebuild list-builds-for-project --project-name gw-it-apply');

      // A build that failed on its own: a lock seen then may be another run's, which its failure report names. Not reported here.
      publishSpy.mockClear();
      await notifyHandler({ kind: 'failure', ...facts(`${name}-2`, '2024-06-06T11:05:00.000Z'), state: { ...base, error: { Error: 'States.TaskFailed', Cause: build('FAILED') } } });
      expect(publishes()[0].input.Message).not.toContain('force-unlock');
      // Never removed.
      expect(await getObjectText(BUCKET, `${STATE_KEY}.tflock`)).toContain(lockId);
    } finally {
      await s3Client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${STATE_KEY}.tflock` }));
    }
  });

  test('failure at Plan without a failure report in S3 (NoSuchKey): still one notice', async () => {
    const name = 'run-notify-plan';
    const full = fullState(name);
    const state: RunState = { request: full.request, lock: full.lock, preflight: full.preflight, workspace: full.workspace, error: { Error: 'States.TaskFailed', Cause: 'build timed out' } };
    await expect(notifyHandler({ kind: 'failure', ...facts(name, '2024-06-06T09:00:00.000Z'), state })).resolves.toEqual({ notified: ['operators'] });
    const [notice] = publishes();
    expect(notice.input.Subject).toBe('Compute Gateway gw-it: deployment failed at Plan (States.TaskFailed)');
    expect(notice.input.Message).toContain('What happened: build timed out');
  });
});
