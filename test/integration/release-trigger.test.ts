/**
 * The release trigger for real against moto: Step Functions (a state machine created there), DynamoDB for the
 * deployed version, SNS for the "not newer" notice. A repeated event must not start a second run.
 */
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ObjectCreatedEvent } from '../../lambdas/release-trigger/index';
import { PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { TEST_REGION, createBucket, createTable, dynamoDbClient, motoEndpoint, s3Client } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const TABLE = `gw-trigger-${suffix}`;
const client = () => new SFNClient({ endpoint: motoEndpoint(), region: TEST_REGION });
let stateMachineArn: string;
let handler: (event: ObjectCreatedEvent) => Promise<any>;
let published: Array<{ Subject?: string; Message?: string }>;

const BUCKET = `gw-trigger-artifacts-${suffix}`;

/** Uploads for real (the trigger reads the object's metadata) and returns the event EventBridge would deliver. */
async function uploaded(key: string, metadata?: Record<string, string>): Promise<ObjectCreatedEvent> {
  const put = await s3Client().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'zip', ...(metadata ? { Metadata: metadata } : {}) }));
  return { detail: { object: { key, etag: put.ETag, 'version-id': put.VersionId } } };
}

/** The same event again: EventBridge delivers at least once. */
const again = (event: ObjectCreatedEvent) => event;

beforeAll(async () => {
  await createTable(TABLE);
  await createBucket(BUCKET);
  await s3Client().send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  stateMachineArn = (
    await client().send(
      new CreateStateMachineCommand({
        name: `GatewayDeployment-trigger-${suffix}`,
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      }),
    )
  ).stateMachineArn!;
  const topicArn = (await new SNSClient({ endpoint: motoEndpoint(), region: TEST_REGION }).send(new CreateTopicCommand({ Name: `ops-${suffix}` }))).TopicArn!;
  Object.assign(process.env, { STATE_MACHINE_ARN: stateMachineArn, DEPLOYMENTS_TABLE: TABLE, OPERATORS_TOPIC_ARN: topicArn, GATEWAY_NAME: 'gw-trigger', RELEASES_PREFIX: 'releases/', ARTIFACTS_BUCKET: BUCKET, MAX_MAJOR_STEP: '1', ALLOW_PRERELEASES: 'false', POWERTOOLS_DEV: 'true' });
  captureConsole();
  published = [];
  const send = SNSClient.prototype.send;
  jest.spyOn(SNSClient.prototype, 'send').mockImplementation(function (this: SNSClient, command: any) {
    if (command instanceof PublishCommand) published.push(command.input);
    return (send as (c: unknown) => unknown).call(this, command);
  } as never);
  ({ handler } = await import('../../lambdas/release-trigger/index'));
});

afterAll(async () => {
  await destroyAdapterClients();
  jest.restoreAllMocks();
});

async function executions(): Promise<string[]> {
  return ((await client().send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? []).map((e) => e.name!);
}

test('a first bundle starts a run whose input names the bundle; the same event again starts none', async () => {
  const event = await uploaded('releases/gateway-1.0.0.zip');
  const first = await handler(event);
  expect(first).toMatchObject({ action: 'start', version: '1.0.0' });
  const input = JSON.parse((await client().send(new DescribeExecutionCommand({ executionArn: first.executionArn }))).input!);
  expect(input).toEqual({ bundleKey: 'releases/gateway-1.0.0.zip', trigger: 's3', reason: 'bundle releases/gateway-1.0.0.zip uploaded' });

  const second = await handler(again(event));
  expect(second.executionName).toBe(first.executionName);
  expect((await executions()).filter((n) => n === first.executionName)).toHaveLength(1);
});

test('a version not newer than the deployed one starts nothing and tells operators', async () => {
  await dynamoDbClient().send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'GATEWAY#gw-trigger' }, sk: { S: 'CURRENT' }, version: { S: '1.1.0' } } }));
  const before = await executions();
  const decision = await handler(await uploaded('releases/gateway-1.0.5.zip'));
  expect(decision).toMatchObject({ action: 'skip', version: '1.0.5' });
  expect(await executions()).toEqual(before);
  expect(published.at(-1)).toMatchObject({ Subject: 'Compute Gateway gw-trigger: upload of 1.0.5 did not start an upgrade' });
  expect(published.at(-1)!.Message).toContain('1.1.0 is deployed');
});

test('an object that is not a bundle is ignored', async () => {
  const before = await executions();
  expect(await handler(await uploaded('releases/README.txt'))).toMatchObject({ action: 'ignore' });
  expect(await executions()).toEqual(before);
});

test("the upload's metadata (expected-agent-version, sha256) becomes the run's input, read from the object itself", async () => {
  const sha = 'cd'.repeat(32);
  const decision = await handler(await uploaded('releases/gateway-1.2.0.zip', { 'expected-agent-version': '0.16.24', sha256: sha }));
  expect(decision).toMatchObject({ action: 'start', version: '1.2.0' });
  const input = JSON.parse((await client().send(new DescribeExecutionCommand({ executionArn: decision.executionArn }))).input!);
  expect(input).toEqual({ bundleKey: 'releases/gateway-1.2.0.zip', trigger: 's3', reason: 'bundle releases/gateway-1.2.0.zip uploaded', expectedAgentVersion: '0.16.24', bundleSha256: sha });
});

test('a jump past the next major and a pre-release wait for an operator: nothing starts, operators are told', async () => {
  const before = await executions();
  for (const version of ['9.0.0', '1.3.0-rc.1']) {
    expect(await handler(await uploaded(`releases/gateway-${version}.zip`))).toMatchObject({ action: 'skip', version });
    expect(published.at(-1)).toMatchObject({ Subject: `Compute Gateway gw-trigger: upload of ${version} did not start an upgrade` });
  }
  expect(await executions()).toEqual(before);
});
