/**
 * The release trigger for real against moto: Step Functions (a state machine created there), DynamoDB for the
 * deployed version, SNS for the "not newer" notice. A repeated event must not start a second run.
 */
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ObjectCreatedEvent } from '../../lambdas/release-trigger/index';
import { TEST_REGION, createTable, dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const TABLE = `gw-trigger-${suffix}`;
const client = () => new SFNClient({ endpoint: motoEndpoint(), region: TEST_REGION });
let stateMachineArn: string;
let handler: (event: ObjectCreatedEvent) => Promise<any>;
let published: Array<{ Subject?: string; Message?: string }>;

const uploaded = (key: string, versionId: string): ObjectCreatedEvent => ({ detail: { object: { key, etag: 'e', 'version-id': versionId } } });

beforeAll(async () => {
  await createTable(TABLE);
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
  Object.assign(process.env, { STATE_MACHINE_ARN: stateMachineArn, DEPLOYMENTS_TABLE: TABLE, OPERATORS_TOPIC_ARN: topicArn, GATEWAY_NAME: 'gw-trigger', RELEASES_PREFIX: 'releases/', POWERTOOLS_DEV: 'true' });
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
  const first = await handler(uploaded('releases/gateway-1.0.0.zip', 'v1'));
  expect(first).toMatchObject({ action: 'start', version: '1.0.0' });
  const input = JSON.parse((await client().send(new DescribeExecutionCommand({ executionArn: first.executionArn }))).input!);
  expect(input).toEqual({ bundleKey: 'releases/gateway-1.0.0.zip', trigger: 's3', reason: 'bundle releases/gateway-1.0.0.zip uploaded' });

  const again = await handler(uploaded('releases/gateway-1.0.0.zip', 'v1'));
  expect(again.executionName).toBe(first.executionName);
  expect((await executions()).filter((n) => n === first.executionName)).toHaveLength(1);
});

test('a version not newer than the deployed one starts nothing and tells operators', async () => {
  await dynamoDbClient().send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'GATEWAY#gw-trigger' }, sk: { S: 'CURRENT' }, version: { S: '1.1.0' } } }));
  const before = await executions();
  const decision = await handler(uploaded('releases/gateway-1.0.5.zip', 'v9'));
  expect(decision).toMatchObject({ action: 'skip', version: '1.0.5' });
  expect(await executions()).toEqual(before);
  expect(published.at(-1)).toMatchObject({ Subject: 'Compute Gateway gw-trigger: upload of 1.0.5 did not start an upgrade' });
  expect(published.at(-1)!.Message).toContain('1.1.0 is deployed');
});

test('an object that is not a bundle is ignored', async () => {
  const before = await executions();
  expect(await handler(uploaded('releases/README.txt', 'v1'))).toMatchObject({ action: 'ignore' });
  expect(await executions()).toEqual(before);
});
