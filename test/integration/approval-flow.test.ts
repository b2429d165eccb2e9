/**
 * The approval gate against moto, with the real handlers: RequestApproval stores the round and mails operators
 * (SNS); an operator decides with the CLI's own code, whose identity proof is a GetCallerIdentity request signed
 * with a principal made in moto's IAM; the real approval function verifies it with STS, records the decision and
 * wakes the run; CheckApproval reads the record. Step Functions is the only fake (the task result is recorded).
 * One test runs its own moto_server with IAM authentication on, so STS checks the signatures for real.
 */
import { randomBytes } from 'node:crypto';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { CheckApprovalEvent } from '../../lambdas/check-approval/check';
import type { DecideEvent, DecideResponse } from '../../lambdas/decide-approval/decide';
import type { RequestApprovalEvent } from '../../lambdas/request-approval/request';
import { signIdentityProof, verifiedCallerArn } from '../../lambdas/shared/adapters/identity-proof';
import { DECISION_HEADER, decisionDigest } from '../../lambdas/shared/domain/identity-proof';
import { ApprovalCommandError, decide } from '../../lambdas/shared/operator/approval';
import { TEST_REGION, createTable, dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';
import { startMoto, type MotoServer } from './support/moto';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const SUFFIX = `${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const TABLE = `gw-approvals-${SUFFIX}`;
const OPERATOR_ROLE = `GatewayOperator-${SUFFIX}`;
const APPROVERS = [`arn:aws:iam::${ACCOUNT}:role/${OPERATOR_ROLE}`];
const PLAN_SHA256 = '7a'.repeat(32);
const CONFIG = JSON.stringify({
  gatewayName: 'gw-it',
  target: { account: ACCOUNT, region: TEST_REGION },
  valuesSecretName: 'gw-it/values',
  approval: { approvers: APPROVERS, timeoutHours: 12 },
});

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
let requestHandler: (event: RequestApprovalEvent) => Promise<void>;
let decideHandler: (event: DecideEvent) => Promise<DecideResponse>;
let checkHandler: (event: CheckApprovalEvent) => Promise<unknown>;
let operator: Credentials;
let outsider: Credentials;
const sfn = mockClient(SFNClient);
const logLines: string[] = [];
let counter = 0;

const testCredentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };
const client = { endpoint: motoEndpoint(), region: TEST_REGION, credentials: testCredentials };

/** A session of the role `roleName`, assumed in moto (STS then reports the assumed-role ARN for its key). */
async function assumed(roleName: string, session: string): Promise<Credentials> {
  const iam = new IAMClient(client);
  const sts = new STSClient(client);
  try {
    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
    await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust }));
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/${roleName}`, RoleSessionName: session }))).Credentials!;
    return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
  } finally {
    iam.destroy();
    sts.destroy();
  }
}

function requestEvent(executionName: string, buildId: string): RequestApprovalEvent {
  return {
    taskToken: `TOKEN-${executionName}`,
    executionArn: `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-gw-it:${executionName}`,
    executionName,
    approvalState: 'RequestApproval',
    subjectBuildId: buildId,
    config: CONFIG,
    preflight: { gateway: 'gw-it', version: '0.9.0', previousVersion: '0.8.1', change: 'upgrade' },
    analysis: {
      line: 'Plan: 0 to add, 1 to change, 0 to destroy.',
      changes: [{ address: 'module.gateway.helm_release.gateway', action: 'update' }],
      changesNotListed: 0,
      risk: { level: 'low', reasons: [] },
      because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
      planTextKey: `plans/gw-it/${executionName}/plan.txt`,
      planJsonKey: `plans/gw-it/${executionName}/plan.json`,
      planSha256: PLAN_SHA256,
    },
  };
}

/** A run waiting on its first approval round; returns its name and build id. */
async function waiting(label: string): Promise<{ executionName: string; buildId: string }> {
  const executionName = `run-${label}-${(counter += 1)}`;
  const buildId = `gw-it-plan:${executionName}`;
  await requestHandler(requestEvent(executionName, buildId));
  return { executionName, buildId };
}

/** The CLI's decide, its invoke port calling the real approval function in this process. */
const cli = (credentials: Credentials) => ({
  signProof: (digest: string) => signIdentityProof(digest, { region: TEST_REGION, credentials }),
  invoke: async (_name: string, payload: object) => decideHandler(payload as DecideEvent),
});

const check = (executionName: string, buildId: string, planSha256 = PLAN_SHA256) =>
  checkHandler({ config: CONFIG, executionName, approvalState: 'RequestApproval', subjectBuildId: buildId, planSha256 });

beforeAll(async () => {
  await createTable(TABLE);
  const sns = new SNSClient(client);
  const topic = (await sns.send(new CreateTopicCommand({ Name: `gw-operators-${SUFFIX}` }))).TopicArn!;
  sns.destroy();
  operator = await assumed(OPERATOR_ROLE, 'alice');
  outsider = await assumed(`PowerUser-${SUFFIX}`, 'mallory');

  // The handlers read their settings and build their clients at import time, so they are imported only now.
  Object.assign(process.env, {
    DEPLOYMENTS_TABLE: TABLE,
    OPERATORS_TOPIC_ARN: topic,
    ARTIFACTS_BUCKET: `gw-artifacts-${ACCOUNT}`,
    STACK_NAME: 'GatewayDeployer-gw-it',
    GATEWAY_NAME: 'gw-it',
    APPROVERS: JSON.stringify(APPROVERS),
    POWERTOOLS_DEV: 'true',
  });
  captureConsole(logLines);
  ({ handler: requestHandler } = await import('../../lambdas/request-approval/index'));
  ({ handler: decideHandler } = await import('../../lambdas/decide-approval/index'));
  ({ handler: checkHandler } = await import('../../lambdas/check-approval/index'));
});

beforeEach(() => {
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

afterAll(async () => {
  sfn.restore();
  await destroyAdapterClients();
  jest.restoreAllMocks();
  for (const name of ['DEPLOYMENTS_TABLE', 'OPERATORS_TOPIC_ARN', 'ARTIFACTS_BUCKET', 'STACK_NAME', 'GATEWAY_NAME', 'APPROVERS', 'POWERTOOLS_DEV']) delete process.env[name];
});

describe('an operator of approval.approvers approves through the approval function', () => {
  test('recorded once with the ARN STS verified and the digest shown; the run is woken; CheckApproval lets it on', async () => {
    const { executionName, buildId } = await waiting('approve');
    const result = await decide('fn', executionName, 'approve', { reason: 'reviewed plan.txt', planSha256: PLAN_SHA256 }, cli(operator));
    expect(result).toMatchObject({ decidedBy: `arn:aws:sts::${ACCOUNT}:assumed-role/${OPERATOR_ROLE}/alice`, planSha256: PLAN_SHA256, gateway: 'gw-it' });

    const woken = sfn.commandCalls(SendTaskSuccessCommand);
    expect(woken).toHaveLength(1);
    expect(woken[0].args[0].input.taskToken).toBe(`TOKEN-${executionName}`);

    await expect(check(executionName, buildId)).resolves.toMatchObject({ approved: true, decidedBy: result.decidedBy, planSha256: PLAN_SHA256 });
  });

  test('the decision item is not rewritten by a second answer, and no second task result is sent', async () => {
    const { executionName, buildId } = await waiting('twice');
    await decide('fn', executionName, 'approve', { reason: 'first' }, cli(operator));
    await expect(decide('fn', executionName, 'reject', { reason: 'second thoughts' }, cli(operator))).rejects.toThrow(/refused \(AlreadyDecided\)/);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    await expect(check(executionName, buildId)).resolves.toMatchObject({ reason: 'first' });
  });

  test('a rejection is recorded and ends the wait with ApprovalRejected; CheckApproval would not let the run on', async () => {
    const { executionName, buildId } = await waiting('reject');
    await decide('fn', executionName, 'reject', { reason: 'not now' }, cli(operator));
    expect(sfn.commandCalls(SendTaskFailureCommand)[0].args[0].input).toMatchObject({ taskToken: `TOKEN-${executionName}`, error: 'ApprovalRejected' });
    await expect(check(executionName, buildId)).rejects.toThrow('the recorded decision is "rejected"');
  });
});

describe('attacks on the gate, each refused', () => {
  test('a principal outside approval.approvers (a PowerUser session) is refused; nothing recorded, nothing sent', async () => {
    const { executionName, buildId } = await waiting('outsider');
    await expect(decide('fn', executionName, 'approve', { reason: 'I can' }, cli(outsider))).rejects.toThrow(
      `refused (NotAnApprover): arn:aws:sts::${ACCOUNT}:assumed-role/PowerUser-${SUFFIX}/mallory is not in approval.approvers`,
    );
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    await expect(check(executionName, buildId)).rejects.toThrow('no decision was recorded');
  });

  test('the token from the execution history alone: the run wakes, CheckApproval ends it as ApprovalNotValid', async () => {
    const { executionName, buildId } = await waiting('forged');
    // What anyone with states:GetExecutionHistory and states:SendTaskSuccess can do: no decision is recorded.
    await expect(check(executionName, buildId)).rejects.toMatchObject({ name: 'ApprovalNotValid' });
  });

  test('a decision item written by hand (the table policy denies it in AWS; moto does not enforce it) must still name an approver', async () => {
    // moto does not enforce the table's resource policy (test/cdk/iam.test.ts asserts it); what the check adds on
    // top: a hand-written record must still name an approver and the digest Apply will act on.
    const { executionName, buildId } = await waiting('handmade');
    const ddb = dynamoDbClient();
    await ddb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          pk: { S: `DECISION#${executionName}` },
          sk: { S: `RequestApproval#${buildId}` },
          executionName: { S: executionName },
          round: { S: `RequestApproval#${buildId}` },
          status: { S: 'approved' },
          approverArn: { S: `arn:aws:sts::${ACCOUNT}:assumed-role/PowerUser/mallory` },
          reason: { S: 'forged' },
          decidedAt: { S: new Date().toISOString() },
          planSha256: { S: PLAN_SHA256 },
        },
      }),
    );
    ddb.destroy();
    await expect(check(executionName, buildId)).rejects.toThrow('is not in approval.approvers');
  });

  test('the first round\'s approval does not carry over to a re-plan (another build, another round)', async () => {
    const { executionName, buildId } = await waiting('rounds');
    await decide('fn', executionName, 'approve', { reason: 'round one' }, cli(operator));
    const second = `gw-it-plan:${executionName}-replan`;
    await requestHandler(requestEvent(executionName, second));
    await expect(check(executionName, second)).rejects.toThrow('no decision was recorded');
    await expect(check(executionName, buildId)).resolves.toMatchObject({ reason: 'round one' });
  });

  test('an approval of one digest does not let another plan through', async () => {
    const { executionName, buildId } = await waiting('digest');
    await decide('fn', executionName, 'approve', { reason: 'ok' }, cli(operator));
    await expect(check(executionName, buildId, 'ee'.repeat(32))).rejects.toThrow(`the approval was for sha256 ${PLAN_SHA256}`);
  });

  test('a proof replayed for another decision is refused before STS is asked', async () => {
    const { executionName } = await waiting('replay');
    const request = { execution: executionName, decision: 'approve', reason: 'ok' };
    const headers = await signIdentityProof(decisionDigest({ ...request, reason: 'something else' }), { region: TEST_REGION, credentials: operator });
    const out = await decideHandler({ request, identity: { headers } });
    expect(out).toMatchObject({ statusCode: 401, body: { error: 'IdentityNotVerified' } });
  });

  test('the reviewed digest must be the waiting one (--plan-sha256)', async () => {
    const { executionName } = await waiting('reviewed');
    await expect(decide('fn', executionName, 'approve', { reason: 'ok', planSha256: 'ee'.repeat(32) }, cli(operator))).rejects.toThrow('refused (PlanChanged)');
  });

  test('the CLI refuses bad input before signing or invoking anything', async () => {
    let called = false;
    const ports = {
      signProof: async () => {
        called = true;
        return {};
      },
      invoke: async () => {
        called = true;
        return { statusCode: 500, body: {} };
      },
    };
    await expect(decide('fn', 'run-1', 'approve', { reason: '   ' }, ports)).rejects.toThrow(ApprovalCommandError);
    await expect(decide('fn', 'bad name!', 'approve', { reason: 'ok' }, ports)).rejects.toThrow('is not an execution name or ARN');
    await expect(decide('fn', 'run-1', 'approve', { reason: 'ok', planSha256: 'abc' }, ports)).rejects.toThrow('--plan-sha256 "abc" is not a sha256');
    expect(called).toBe(false);
  });
});

describe('identity proofs against a moto_server that checks signatures (INITIAL_NO_AUTH_ACTION_COUNT)', () => {
  let authMoto: MotoServer;
  let user: Credentials;
  const userName = 'alice';

  beforeAll(async () => {
    // Two requests without authentication make the user and its key; from then on moto verifies every signature.
    authMoto = await startMoto({ env: { INITIAL_NO_AUTH_ACTION_COUNT: '2' } });
    const iam = new IAMClient({ ...client, endpoint: authMoto.endpoint });
    await iam.send(new CreateUserCommand({ UserName: userName }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey!;
    iam.destroy();
    user = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    process.env.AWS_ENDPOINT_URL_STS = authMoto.endpoint;
  });

  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_STS;
    await authMoto?.stop();
  });

  test('STS answers the signer\'s ARN for a proof signed with its key', async () => {
    const headers = await signIdentityProof('d'.repeat(64), { region: TEST_REGION, credentials: user });
    await expect(verifiedCallerArn(headers, TEST_REGION)).resolves.toBe(`arn:aws:iam::${ACCOUNT}:user/${userName}`);
  });

  test('a proof whose decision header was changed after signing: STS refuses the signature', async () => {
    const headers = await signIdentityProof('d'.repeat(64), { region: TEST_REGION, credentials: user });
    await expect(verifiedCallerArn({ ...headers, [DECISION_HEADER]: 'e'.repeat(64) }, TEST_REGION)).rejects.toMatchObject({
      name: 'IdentityNotVerified',
      message: expect.stringContaining('STS refused the identity proof (403 SignatureDoesNotMatch'),
    });
  });

  test('a proof signed with a guessed secret for a real key id: STS refuses it', async () => {
    const headers = await signIdentityProof('d'.repeat(64), { region: TEST_REGION, credentials: { ...user, secretAccessKey: 'guessed' } });
    await expect(verifiedCallerArn(headers, TEST_REGION)).rejects.toMatchObject({ name: 'IdentityNotVerified' });
  });
});

test('no log line of the approval path holds a task token', () => {
  expect(logLines.join('\n')).not.toMatch(/TOKEN-run-/);
});

test('the pending item of a round names the digest the request showed', async () => {
  const { executionName, buildId } = await waiting('item');
  const ddb = dynamoDbClient();
  const item = (await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `EXECUTION#${executionName}` }, sk: { S: `APPROVAL#RequestApproval#${buildId}` } }, ConsistentRead: true }))).Item;
  ddb.destroy();
  expect(item).toMatchObject({ planSha256: { S: PLAN_SHA256 }, round: { S: `RequestApproval#${buildId}` } });
});
