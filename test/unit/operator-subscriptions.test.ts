/**
 * `subscriptions` and status's subscription line with fake ports (as operator-commands.test.ts): what is listed,
 * what --resend subscribes (the configured addresses that are not confirmed, nothing else), and the errors.
 */
import type { Target } from '../../lambdas/shared/operator/cli-commands';
import { runStatus, type OperatorPorts } from '../../lambdas/shared/operator/commands';
import type { ListedSubscription } from '../../lambdas/shared/domain/subscriptions';
import {
  runSubscriptions,
  statusSubscriptions,
  subscriptionStatusLines,
  type ConfiguredAddresses,
  type SubscriptionAws,
  type SubscriptionPorts,
} from '../../lambdas/shared/operator/subscriptions';
import { rejection } from '../support/operator-errors';

const TARGET: Target = { gateway: 'gw', stack: 'GatewayDeployer-gw', region: 'eu-central-1' };
const SUPPORT = 'arn:aws:sns:eu-central-1:123456789012:GatewayDeployer-gw-NotificationsSupport1-abc';
const OPERATORS = 'arn:aws:sns:eu-central-1:123456789012:GatewayDeployer-gw-NotificationsOperators2-def';
const OUTPUTS = [
  { OutputKey: 'StateMachineArn', OutputValue: 'arn:aws:states:eu-central-1:123456789012:stateMachine:GatewayDeployment-gw' },
  { OutputKey: 'DeploymentsTableName', OutputValue: 'table' },
  { OutputKey: 'SupportTopicArn', OutputValue: SUPPORT },
  { OutputKey: 'OperatorsTopicArn', OutputValue: OPERATORS },
];
const CONFIGURED: ConfiguredAddresses = {
  gatewayName: 'gw',
  source: 'gateway.yaml',
  supportEmails: ['support@apheris.com'],
  operatorEmails: ['alice@example.com', 'bob@example.com'],
};
const sub = (topicArn: string, endpoint: string, arn: string, protocol = 'email'): ListedSubscription => ({ SubscriptionArn: arn === 'confirmed' ? `${topicArn}:${endpoint}` : arn, Protocol: protocol, Endpoint: endpoint });

/** support pending, alice confirmed, bob missing; somebody else's pending address and an sqs queue on the topics. */
const TOPICS: Record<string, ListedSubscription[]> = {
  [SUPPORT]: [sub(SUPPORT, 'support@apheris.com', 'PendingConfirmation'), sub(SUPPORT, 'mallory@evil.example', 'PendingConfirmation')],
  [OPERATORS]: [sub(OPERATORS, 'alice@example.com', 'confirmed'), sub(OPERATORS, 'arn:aws:sqs:eu-central-1:123456789012:q', 'confirmed', 'sqs'), sub(OPERATORS, 'eve@evil.example', 'PendingConfirmation')],
};

function fakePorts(overrides: Partial<SubscriptionPorts> = {}) {
  const printed: string[] = [];
  const subscribed: Array<[string, string]> = [];
  const ports: SubscriptionPorts = {
    region: async () => 'eu-central-1',
    stackOutputs: async () => OUTPUTS,
    listSubscriptions: async (topicArn) => TOPICS[topicArn] ?? [],
    subscribeEmail: async (topicArn, address) => {
      subscribed.push([topicArn, address]);
      return 'PendingConfirmation';
    },
    print: (line) => void printed.push(line),
    ...overrides,
  };
  return { ports, printed, subscribed };
}

describe('runSubscriptions', () => {
  test('lists each topic against the config: states, what to do, the others; subscribes nothing without --resend', async () => {
    const fake = fakePorts();
    const report = await runSubscriptions(TARGET, { configured: CONFIGURED }, fake.ports);
    expect(fake.subscribed).toEqual([]);
    expect(report.topics.map((t) => t.addresses.map((a) => `${a.address}=${a.state}`))).toEqual([
      ['support@apheris.com=pending-confirmation'],
      ['alice@example.com=confirmed', 'bob@example.com=missing'],
    ]);
    const text = fake.printed.join('\n');
    expect(text).toContain('Gateway gw: stack GatewayDeployer-gw in eu-central-1; configured addresses from gateway.yaml');
    expect(text).toContain(`Support topic (the wrap-up mail of the HOWTO "Deploying on AWS EKS"): ${SUPPORT}`);
    expect(text).toMatch(/support@apheris\.com\s+pending confirmation\s+its owner clicks "Confirm subscription"/);
    expect(text).toMatch(/bob@example\.com\s+missing\s+deleted/);
    expect(text).toContain('also on the topic, not in the config: mallory@evil.example (email, pending confirmation); --resend leaves it alone');
    expect(text).toContain('2 configured addresses are not confirmed: npx gateway-deployer subscriptions --resend sends their confirmation mail again.');
    expect(text).not.toMatch(/seed/i);
  });

  test('--resend subscribes exactly the configured addresses that are not confirmed, as configured; never the topics\' other addresses', async () => {
    const fake = fakePorts();
    const report = await runSubscriptions(TARGET, { configured: CONFIGURED, resend: true }, fake.ports);
    expect(fake.subscribed).toEqual([
      [SUPPORT, 'support@apheris.com'],
      [OPERATORS, 'bob@example.com'],
    ]);
    // The attack angle: every subscribed address is one of the config's, whatever the topics hold.
    const configured = [...CONFIGURED.supportEmails, ...CONFIGURED.operatorEmails];
    expect(fake.subscribed.every(([, address]) => configured.includes(address))).toBe(true);
    expect(fake.subscribed.map(([, a]) => a)).not.toEqual(expect.arrayContaining(['mallory@evil.example']));
    expect(fake.subscribed.map(([, a]) => a)).not.toEqual(expect.arrayContaining(['eve@evil.example']));
    expect(report.resent).toEqual([
      { topic: 'support', address: 'support@apheris.com', result: 'sent', subscriptionArn: 'PendingConfirmation' },
      { topic: 'operators', address: 'bob@example.com', result: 'sent', subscriptionArn: 'PendingConfirmation' },
    ]);
    expect(fake.printed.join('\n')).toContain('Re-sent: bob@example.com (operators topic): SNS mailed it a confirmation link; its owner must click it within 48 hours');
  });

  test('--resend with the configured spelling even when the topic spells the address otherwise', async () => {
    const fake = fakePorts({ listSubscriptions: async (arn) => (arn === SUPPORT ? [sub(SUPPORT, 'SUPPORT@apheris.com', 'PendingConfirmation')] : []) });
    await runSubscriptions(TARGET, { configured: { ...CONFIGURED, operatorEmails: [] }, resend: true }, fake.ports);
    expect(fake.subscribed).toEqual([[SUPPORT, 'support@apheris.com']]);
  });

  test('--resend with everything confirmed: nothing subscribed, said so', async () => {
    const fake = fakePorts({ listSubscriptions: async (arn) => (arn === SUPPORT ? [sub(SUPPORT, 'support@apheris.com', 'confirmed')] : []) });
    await runSubscriptions(TARGET, { configured: { ...CONFIGURED, operatorEmails: [] }, resend: true }, fake.ports);
    expect(fake.subscribed).toEqual([]);
    expect(fake.printed).toContain('Nothing to re-send: every configured address is confirmed.');
    expect(fake.printed).toContain('  no address configured (notifications.operatorEmails)');
  });

  test('--output json: one document with the findings and what was re-sent', async () => {
    const fake = fakePorts();
    await runSubscriptions(TARGET, { configured: CONFIGURED, resend: true, json: true }, fake.ports);
    expect(fake.printed).toHaveLength(1);
    const json = JSON.parse(fake.printed[0]);
    expect(json).toMatchObject({ gateway: 'gw', stack: 'GatewayDeployer-gw', region: 'eu-central-1', configSource: 'gateway.yaml' });
    expect(json.topics[0]).toMatchObject({ topic: 'support', topicArn: SUPPORT, addresses: [{ address: 'support@apheris.com', state: 'pending-confirmation' }] });
    expect(json.resent).toHaveLength(2);
  });

  test("another gateway's config: refused before any AWS call, exit 2", async () => {
    const stackOutputs = jest.fn(async () => OUTPUTS);
    const fake = fakePorts({ stackOutputs });
    const error = await rejection(runSubscriptions(TARGET, { configured: { ...CONFIGURED, gatewayName: 'other', source: 'built-in example' }, resend: true }, fake.ports));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe("the config (built-in example) is gateway other's, not gw's: pass gw's config with --config, its notifications addresses are the ones checked");
    expect(stackOutputs).not.toHaveBeenCalled();
    expect(fake.subscribed).toEqual([]);
  });

  test('a stack without the topic outputs: named, exit 2', async () => {
    const fake = fakePorts({ stackOutputs: async () => OUTPUTS.filter((o) => !o.OutputKey.endsWith('TopicArn')) });
    const error = await rejection(runSubscriptions(TARGET, { configured: CONFIGURED }, fake.ports));
    expect(error.message).toContain('has no outputs SupportTopicArn, OperatorsTopicArn');
    expect(error.exitCode).toBe(2);
  });

  test('listing denied: names the action and the topic, exit 2', async () => {
    const denied = Object.assign(new Error('not authorized to perform: SNS:ListSubscriptionsByTopic'), { name: 'AuthorizationError' });
    const fake = fakePorts({ listSubscriptions: async () => Promise.reject(denied) });
    const error = await rejection(runSubscriptions(TARGET, { configured: CONFIGURED }, fake.ports));
    expect(error.message).toMatch(/^not allowed to list its subscriptions \(sns:ListSubscriptionsByTopic\) on arn:aws:sns:/);
    expect(error.exitCode).toBe(2);
  });

  test('a Subscribe that fails: the others are still sent, then exit 1 naming the failed address', async () => {
    const fake = fakePorts();
    const subscribeEmail = jest.fn(async (topicArn: string, address: string) => {
      if (address === 'support@apheris.com') throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
      return fake.ports.subscribeEmail(topicArn, address);
    });
    const error = await rejection(runSubscriptions(TARGET, { configured: CONFIGURED, resend: true }, { ...fake.ports, subscribeEmail }));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe('1 of 2 confirmation mail(s) could not be sent: support@apheris.com (Throttling: Rate exceeded)');
    expect(fake.subscribed).toEqual([[OPERATORS, 'bob@example.com']]);
    expect(fake.printed.join('\n')).toContain('Not re-sent: support@apheris.com (support topic): Throttling: Rate exceeded');
  });

  test('no credentials while subscribing: the environment error, exit 2', async () => {
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const fake = fakePorts({ subscribeEmail: async () => Promise.reject(noCredentials) });
    const error = await rejection(runSubscriptions(TARGET, { configured: CONFIGURED, resend: true }, fake.ports));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('AWS_PROFILE');
  });
});

describe('status: a line per subscription not confirmed', () => {
  const outputs = Object.fromEntries(OUTPUTS.map((o) => [o.OutputKey, o.OutputValue]));
  const list: SubscriptionAws['listSubscriptions'] = async (arn) => TOPICS[arn] ?? [];

  test("with this gateway's config: the configured addresses not confirmed, and the topics' pending ones", async () => {
    const s = await statusSubscriptions(outputs, CONFIGURED, { listSubscriptions: list });
    expect(subscriptionStatusLines(s)).toEqual([
      '',
      'Subscription not confirmed: support@apheris.com on the support topic (pending confirmation): npx gateway-deployer subscriptions --resend',
      'Subscription not confirmed: mallory@evil.example on the support topic (pending confirmation, not in the config)',
      'Subscription not confirmed: bob@example.com on the operators topic (missing): npx gateway-deployer subscriptions --resend',
      'Subscription not confirmed: eve@evil.example on the operators topic (pending confirmation, not in the config)',
    ]);
  });

  test('without a config of this gateway: only the pending ones; all confirmed: no line', async () => {
    const s = await statusSubscriptions(outputs, undefined, { listSubscriptions: list });
    expect(s?.notConfirmed.map((n) => n.address)).toEqual(['support@apheris.com', 'mallory@evil.example', 'eve@evil.example']);
    const fine = await statusSubscriptions(outputs, CONFIGURED, { listSubscriptions: async (arn) => (arn === SUPPORT ? [sub(SUPPORT, 'support@apheris.com', 'confirmed')] : CONFIGURED.operatorEmails.map((a) => sub(OPERATORS, a, 'confirmed'))) });
    expect(fine).toEqual({ checked: true, notConfirmed: [] });
    expect(subscriptionStatusLines(fine)).toEqual([]);
  });

  test('a listing that fails is a line, not a failed status; no port or no topic outputs: nothing', async () => {
    const s = await statusSubscriptions(outputs, CONFIGURED, { listSubscriptions: async () => Promise.reject(Object.assign(new Error('denied'), { name: 'AuthorizationError' })) });
    expect(subscriptionStatusLines(s)).toEqual(['', 'Subscriptions: not checked (AuthorizationError: denied); npx gateway-deployer subscriptions shows them']);
    expect(await statusSubscriptions(outputs, CONFIGURED, {})).toBeUndefined();
    expect(await statusSubscriptions({ StateMachineArn: 'x' }, CONFIGURED, { listSubscriptions: list })).toBeUndefined();
  });

  function statusPorts(extra: Partial<SubscriptionAws> = {}) {
    const printed: string[] = [];
    const ports: OperatorPorts & Partial<SubscriptionAws> = {
      region: async () => 'eu-central-1',
      stackOutputs: async () => OUTPUTS,
      readLock: async () => null,
      readDeployed: async () => null,
      executionStatus: async () => 'MISSING',
      startExecution: async () => ({ executionArn: 'x' }),
      listExecutions: async () => [],
      currentState: async () => null,
      history: async () => [],
      now: () => new Date('2024-06-01T09:30:00Z'),
      sleep: async () => {},
      print: (line) => void printed.push(line),
      ...extra,
    };
    return { ports, printed };
  }

  test('runStatus prints the lines after the report, and JSON carries them; listed once per command', async () => {
    const listSubscriptions = jest.fn(list);
    const text = statusPorts({ listSubscriptions });
    await runStatus(TARGET, { limit: 5, notifications: CONFIGURED }, text.ports);
    expect(text.printed).toContain('Subscription not confirmed: bob@example.com on the operators topic (missing): npx gateway-deployer subscriptions --resend');
    expect(listSubscriptions).toHaveBeenCalledTimes(2);

    const json = statusPorts({ listSubscriptions: list });
    await runStatus(TARGET, { limit: 5, json: true, notifications: CONFIGURED }, json.ports);
    expect(JSON.parse(json.printed[0]).subscriptions).toMatchObject({ checked: true, notConfirmed: expect.arrayContaining([{ topic: 'operators', address: 'bob@example.com', state: 'missing', configured: true }]) });
  });

  test('runStatus without the port (older callers, fakes): unchanged output, no subscriptions key', async () => {
    const json = statusPorts();
    await runStatus(TARGET, { limit: 5, json: true }, json.ports);
    expect(JSON.parse(json.printed[0])).not.toHaveProperty('subscriptions');
  });
});
