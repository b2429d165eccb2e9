/**
 * The e-mail subscriptions against moto's SNS: the operator command `subscriptions` (ports and commander), the line
 * of `status`, and the approval request's notice, on two topics named by a CloudFormation stack's outputs as the
 * deployer's are.
 *
 * What moto cannot show: moto 5.2.1 confirms an e-mail subscription the moment it is made (ListSubscriptionsByTopic
 * gives its ARN, GetSubscriptionAttributes PendingConfirmation "false"), so "PendingConfirmation" never appears
 * here; that state is covered with fakes (test/unit/subscriptions.test.ts, operator-subscriptions.test.ts). The
 * "missing" state is real here: a subscription is deleted with Unsubscribe, as SNS deletes one left unconfirmed.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { operatorAws } from '../../lambdas/shared/adapters/operator-aws';
import { listTopicSubscriptions } from '../../lambdas/shared/adapters/topic-subscriptions';
import { requestApproval, type RequestApprovalEvent } from '../../lambdas/request-approval/request';
import type { Target } from '../../lambdas/shared/operator/cli-commands';
import { runSubscriptions, statusSubscriptions, subscriptionStatusLines, type ConfiguredAddresses, type SubscriptionPorts } from '../../lambdas/shared/operator/subscriptions';
import { TEST_REGION, motoEndpoint } from './support/aws-clients';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const SUFFIX = randomBytes(3).toString('hex');
const GATEWAY = `subs-${SUFFIX}`;
const STACK = `GatewayDeployer-${GATEWAY}`;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };
const clientConfig = () => ({ endpoint: motoEndpoint(), region: TEST_REGION, credentials });
const TARGET: Target = { gateway: GATEWAY, stack: STACK, region: TEST_REGION };
const CONFIGURED: ConfiguredAddresses = {
  gatewayName: GATEWAY,
  source: 'gateway.yaml',
  supportEmails: ['support@apheris.com'],
  operatorEmails: ['alice@example.com', 'bob@example.com'],
};
/** On the operators topic, but not in the config: someone subscribed it by hand. */
const OUTSIDER = 'mallory@evil.example';

let sns: SNSClient;
let aws: ReturnType<typeof operatorAws>;
let supportTopic: string;
let operatorsTopic: string;
let outsiderArn: string;
const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'subscriptions-'));

const subscribe = async (topicArn: string, address: string) =>
  (await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: address, ReturnSubscriptionArn: true }))).SubscriptionArn!;

function ports() {
  const printed: string[] = [];
  const p: SubscriptionPorts = { ...aws, print: (line) => void printed.push(line) };
  return { ports: p, printed };
}

/** Every e-mail subscription of a topic, endpoint → ARNs. */
async function emails(topicArn: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of await listTopicSubscriptions(sns, topicArn)) if (s.Protocol === 'email') (out[s.Endpoint!] ??= []).push(s.SubscriptionArn!);
  return out;
}

async function unsubscribe(topicArn: string, address: string): Promise<void> {
  for (const arn of (await emails(topicArn))[address] ?? []) await sns.send(new UnsubscribeCommand({ SubscriptionArn: arn }));
}

beforeAll(async () => {
  sns = new SNSClient(clientConfig());
  aws = operatorAws({ region: TEST_REGION, endpoint: motoEndpoint(), credentials });
  supportTopic = (await sns.send(new CreateTopicCommand({ Name: `${GATEWAY}-support` }))).TopicArn!;
  operatorsTopic = (await sns.send(new CreateTopicCommand({ Name: `${GATEWAY}-operators` }))).TopicArn!;
  // What CloudFormation makes from the config (lib/constructs/notifications.ts), and one address it does not know.
  await subscribe(supportTopic, 'support@apheris.com');
  for (const address of CONFIGURED.operatorEmails) await subscribe(operatorsTopic, address);
  outsiderArn = await subscribe(operatorsTopic, OUTSIDER);

  const cfn = new CloudFormationClient(clientConfig());
  try {
    const template = {
      Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
      Outputs: { SupportTopicArn: { Value: supportTopic }, OperatorsTopicArn: { Value: operatorsTopic } },
    };
    await cfn.send(new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template) }));
  } finally {
    cfn.destroy();
  }
});

afterAll(() => {
  sns?.destroy();
  aws?.destroy();
  fs.rmSync(configDir, { recursive: true, force: true });
});

test("moto confirms an e-mail subscription at once: ListSubscriptionsByTopic gives its ARN, never PendingConfirmation", async () => {
  const listed = await listTopicSubscriptions(sns, supportTopic);
  expect(listed).toEqual([{ SubscriptionArn: expect.stringMatching(/^arn:aws:sns:/), Protocol: 'email', Endpoint: 'support@apheris.com' }]);
  const attributes = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: listed[0].SubscriptionArn! }))).Attributes;
  expect(attributes?.PendingConfirmation).toBe('false');
});

test('every configured address subscribed (and confirmed by moto): confirmed; the outsider is listed apart', async () => {
  const { ports: p, printed } = ports();
  const report = await runSubscriptions(TARGET, { configured: CONFIGURED }, p);
  expect(report.topics.flatMap((t) => t.addresses.map((a) => a.state))).toEqual(['confirmed', 'confirmed', 'confirmed']);
  expect(report.topics[1].others).toEqual([{ protocol: 'email', endpoint: OUTSIDER, state: 'confirmed' }]);
  expect(printed.at(-1)).toBe('Every configured address is confirmed.');
});

describe('deleted subscriptions (SNS deletes one left unconfirmed for 48 hours; here: Unsubscribe)', () => {
  beforeAll(async () => {
    await unsubscribe(supportTopic, 'support@apheris.com');
    await unsubscribe(operatorsTopic, 'bob@example.com');
  });

  test('the command reports them missing, with what to do', async () => {
    const { ports: p, printed } = ports();
    const report = await runSubscriptions(TARGET, { configured: CONFIGURED }, p);
    expect(report.topics.flatMap((t) => t.addresses.map((a) => `${a.address}=${a.state}`))).toEqual([
      'support@apheris.com=missing',
      'alice@example.com=confirmed',
      'bob@example.com=missing',
    ]);
    expect(printed.at(-1)).toBe('2 configured addresses are not confirmed: npx gateway-deployer subscriptions --resend sends their confirmation mail again.');
  });

  test("status's line names them", async () => {
    const s = await statusSubscriptions({ SupportTopicArn: supportTopic, OperatorsTopicArn: operatorsTopic }, CONFIGURED, aws);
    expect(subscriptionStatusLines(s).filter(Boolean)).toEqual([
      'Subscription not confirmed: support@apheris.com on the support topic (missing): npx gateway-deployer subscriptions --resend',
      'Subscription not confirmed: bob@example.com on the operators topic (missing): npx gateway-deployer subscriptions --resend',
    ]);
  });

  test("the approval request tells the (other) operators, from moto's listing", async () => {
    const published: string[] = [];
    const event: RequestApprovalEvent = {
      taskToken: 'token',
      executionArn: `arn:aws:states:${TEST_REGION}:${ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:run-1`,
      executionName: 'run-1',
      approvalState: 'RequestApproval',
      subjectBuildId: 'plan:1',
      config: JSON.stringify({
        gatewayName: GATEWAY,
        target: { account: ACCOUNT, region: TEST_REGION },
        valuesSecretName: 'values',
        approval: { approvers: [`arn:aws:iam::${ACCOUNT}:role/GatewayOperator`] },
        notifications: { supportEmails: CONFIGURED.supportEmails, operatorEmails: CONFIGURED.operatorEmails },
      }),
      preflight: { gateway: GATEWAY, version: '0.8.1', previousVersion: null, change: 'install' },
      analysis: {
        line: 'Plan: 3 to add, 0 to change, 0 to destroy.',
        changes: [],
        changesNotListed: 0,
        risk: { level: 'low', reasons: [] },
        because: 'every plan is approved by an operator',
        planTextKey: 'plans/p.txt',
        planJsonKey: 'plans/p.json',
        planSha256: 'ab'.repeat(32),
      },
    };
    await requestApproval(
      event,
      { store: async () => {}, publish: async (_subject, text) => void published.push(text), now: () => new Date(), listSubscriptions: (arn) => listTopicSubscriptions(sns, arn) },
      { artifactsBucket: 'bucket', stackName: STACK, region: TEST_REGION, topics: { support: supportTopic, operators: operatorsTopic } },
    );
    expect(published[0]).toContain('support@apheris.com has no subscription to the support topic (deleted after 48 hours unconfirmed, or never created): the wrap-up mail will not reach it');
    expect(published[0]).toContain('bob@example.com has no subscription to the operators topic');
    expect(published[0]).not.toContain('alice@example.com');
  });

  test('--resend (through commander) subscribes exactly the missing configured addresses; the outsider is left alone', async () => {
    const config = path.join(configDir, 'gateway.yaml');
    fs.writeFileSync(
      config,
      `gatewayName: ${GATEWAY}\ntarget: { account: "${ACCOUNT}", region: ${TEST_REGION} }\nvaluesSecretName: ${GATEWAY}/values\n` +
        `approval: { approvers: ["arn:aws:iam::${ACCOUNT}:role/GatewayOperator"] }\n` +
        `notifications: { supportEmails: [support@apheris.com], operatorEmails: [alice@example.com, bob@example.com] }\n`,
    );
    const beforeOperators = await emails(operatorsTopic);
    const printed: string[] = [];
    jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    try {
      const { program } = await import('../../bin/cli');
      const quiet = { writeOut: () => {}, writeErr: () => {} };
      const cli = program().exitOverride().configureOutput(quiet);
      for (const sub of cli.commands) sub.exitOverride().configureOutput(quiet);
      await cli.parseAsync(['node', 'cli', 'subscriptions', '--config', config, '--resend', '--output', 'json']);
    } finally {
      jest.restoreAllMocks();
    }
    const json = JSON.parse(printed.join('\n'));
    expect(json.resent.map((r: { address: string; result: string }) => `${r.address}=${r.result}`)).toEqual(['support@apheris.com=sent', 'bob@example.com=sent']);

    // Back, one subscription each; alice's and the outsider's are the very same subscriptions as before.
    expect(Object.keys(await emails(supportTopic))).toEqual(['support@apheris.com']);
    const afterOperators = await emails(operatorsTopic);
    expect(Object.keys(afterOperators).sort()).toEqual(['alice@example.com', 'bob@example.com', OUTSIDER]);
    expect(afterOperators['alice@example.com']).toEqual(beforeOperators['alice@example.com']);
    expect(afterOperators[OUTSIDER]).toEqual([outsiderArn]);
    expect(afterOperators['bob@example.com']).toHaveLength(1);

    const { ports: p } = ports();
    const report = await runSubscriptions(TARGET, { configured: CONFIGURED }, p);
    expect(report.topics.flatMap((t) => t.addresses.map((a) => a.state))).toEqual(['confirmed', 'confirmed', 'confirmed']);
  });
});

test('ListSubscriptionsByTopic is read to its last page', async () => {
  const topic = (await sns.send(new CreateTopicCommand({ Name: `${GATEWAY}-many` }))).TopicArn!;
  for (let i = 0; i < 105; i++) await subscribe(topic, `op${i}@example.com`);
  const listed = await listTopicSubscriptions(sns, topic);
  expect(new Set(listed.map((s) => s.Endpoint)).size).toBe(105);
});
