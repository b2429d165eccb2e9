/**
 * The e-mail subscriptions against the config (domain/subscriptions.ts): confirmed, pending confirmation or
 * missing per configured address; what --resend may subscribe (configured addresses only); the notices' lines,
 * best effort.
 */
import {
  assessTopic,
  checkSubscriptions,
  notConfirmed,
  resendTargets,
  subscriptionNotice,
  subscriptionNoticeLines,
  type ListedSubscription,
  type TopicFindings,
} from '../../lambdas/shared/domain/subscriptions';

const SUPPORT_ARN = 'arn:aws:sns:eu-central-1:123456789012:GatewayDeployer-gw-Support';
const OPERATORS_ARN = 'arn:aws:sns:eu-central-1:123456789012:GatewayDeployer-gw-Operators';
const confirmed = (topicArn: string, endpoint: string, protocol = 'email'): ListedSubscription => ({ SubscriptionArn: `${topicArn}:${endpoint.length}-uuid`, Protocol: protocol, Endpoint: endpoint });
const pending = (endpoint: string, protocol = 'email'): ListedSubscription => ({ SubscriptionArn: 'PendingConfirmation', Protocol: protocol, Endpoint: endpoint });

describe('assessTopic', () => {
  test('a confirmed subscription (an ARN), a pending one (PendingConfirmation), a configured address without any (missing)', () => {
    const report = assessTopic('operators', OPERATORS_ARN, ['alice@example.com', 'bob@example.com', 'carol@example.com'], [
      confirmed(OPERATORS_ARN, 'alice@example.com'),
      pending('bob@example.com'),
    ]);
    expect(report.addresses.map((a) => [a.address, a.state])).toEqual([
      ['alice@example.com', 'confirmed'],
      ['bob@example.com', 'pending-confirmation'],
      ['carol@example.com', 'missing'],
    ]);
    expect(report.addresses[0].subscriptionArn).toBe(`${OPERATORS_ARN}:17-uuid`);
    expect(report.addresses[1].action).toContain('npx gateway-deployer subscriptions --resend');
    expect(report.addresses[1].action).toContain('48 hours');
    expect(report.addresses[2].action).toMatch(/^deleted .* or never created, and cdk deploy does not make it again/);
    expect(report.others).toEqual([]);
  });

  test('"Deleted" (an unsubscribe SNS still shows) is missing; a confirmed one wins over a pending duplicate', () => {
    const report = assessTopic('support', SUPPORT_ARN, ['support@apheris.com', 'gone@example.com'], [
      pending('support@apheris.com'),
      confirmed(SUPPORT_ARN, 'support@apheris.com'),
      { SubscriptionArn: 'Deleted', Protocol: 'email', Endpoint: 'gone@example.com' },
    ]);
    expect(report.addresses.map((a) => a.state)).toEqual(['confirmed', 'missing']);
    expect(report.others).toEqual([]);
  });

  test('addresses compare without case or blanks; each configured address is reported once, as configured', () => {
    const report = assessTopic('support', SUPPORT_ARN, ['Support@Apheris.com', ' support@apheris.com'], [confirmed(SUPPORT_ARN, 'support@APHERIS.com')]);
    expect(report.addresses).toEqual([expect.objectContaining({ address: 'Support@Apheris.com', state: 'confirmed' })]);
  });

  test('only an e-mail subscription counts: the same address over email-json is another subscription', () => {
    const report = assessTopic('support', SUPPORT_ARN, ['support@apheris.com'], [confirmed(SUPPORT_ARN, 'support@apheris.com', 'email-json')]);
    expect(report.addresses[0].state).toBe('missing');
    expect(report.others).toEqual([{ protocol: 'email-json', endpoint: 'support@apheris.com', state: 'confirmed' }]);
  });

  test("the topic's other subscriptions are listed as others (an sqs queue, somebody's pending address), deleted ones not", () => {
    const report = assessTopic('operators', OPERATORS_ARN, [], [
      confirmed(OPERATORS_ARN, 'arn:aws:sqs:eu-central-1:123456789012:outbox', 'sqs'),
      pending('mallory@evil.example'),
      { SubscriptionArn: 'Deleted', Protocol: 'email', Endpoint: 'old@example.com' },
    ]);
    expect(report.addresses).toEqual([]);
    expect(report.others).toEqual([
      { protocol: 'sqs', endpoint: 'arn:aws:sqs:eu-central-1:123456789012:outbox', state: 'confirmed' },
      { protocol: 'email', endpoint: 'mallory@evil.example', state: 'pending-confirmation' },
    ]);
  });
});

describe('resendTargets: only configured addresses, spelled as configured', () => {
  const configured = { support: ['Support@Apheris.com'], operators: ['alice@example.com', 'bob@example.com'] };
  const reports = (): TopicFindings[] => [
    assessTopic('support', SUPPORT_ARN, configured.support, [pending('support@apheris.com')]),
    assessTopic('operators', OPERATORS_ARN, configured.operators, [confirmed(OPERATORS_ARN, 'alice@example.com'), pending('mallory@evil.example')]),
  ];

  test('the pending and the missing configured addresses, never a confirmed one nor the topic\'s other subscriptions', () => {
    expect(resendTargets(reports(), configured)).toEqual([
      // The configured spelling, not the topic's ("support@apheris.com").
      { topic: 'support', topicArn: SUPPORT_ARN, address: 'Support@Apheris.com' },
      { topic: 'operators', topicArn: OPERATORS_ARN, address: 'bob@example.com' },
    ]);
  });

  test('a finding that names another address (a tampered or stale report) subscribes nothing: the addresses come from the config', () => {
    const [support, operators] = reports();
    const forged: TopicFindings[] = [
      { ...support, addresses: [{ topic: 'support', address: 'mallory@evil.example', state: 'missing', action: '' }] },
      { ...operators, addresses: [...operators.addresses, { topic: 'operators', address: 'eve@evil.example', state: 'pending-confirmation', action: '' }] },
    ];
    expect(resendTargets(forged, configured)).toEqual([{ topic: 'operators', topicArn: OPERATORS_ARN, address: 'bob@example.com' }]);
  });

  test('every configured address confirmed: nothing', () => {
    const all = [assessTopic('support', SUPPORT_ARN, ['support@apheris.com'], [confirmed(SUPPORT_ARN, 'support@apheris.com')])];
    expect(resendTargets(all, { support: ['support@apheris.com'], operators: [] })).toEqual([]);
  });
});

describe("the notices' lines", () => {
  const reports = [
    assessTopic('support', SUPPORT_ARN, ['support@apheris.com'], [pending('support@apheris.com')]),
    assessTopic('operators', OPERATORS_ARN, ['alice@example.com', 'bob@example.com'], [confirmed(OPERATORS_ARN, 'alice@example.com')]),
  ];

  test('approval request: support will not get the wrap-up mail; a missing operator gets nothing, nor this mail', () => {
    const lines = subscriptionNoticeLines(reports, 'approval');
    expect(lines).toEqual([
      'E-mail subscriptions (checked by this run, best effort):',
      '  ! support@apheris.com has not confirmed its subscription to the support topic: the wrap-up mail will not reach it; run npx gateway-deployer subscriptions --resend',
      '  ! bob@example.com has no subscription to the operators topic (deleted after 48 hours unconfirmed, or never created): approval requests and failure notices will not reach it (nor does this mail: it reaches the confirmed operators only); run npx gateway-deployer subscriptions --resend',
      '',
    ]);
    expect(lines.join('\n')).not.toMatch(/seed/i);
  });

  test("completion: this run's wrap-up mail did not reach support; the HOWTO is named", () => {
    const [line] = subscriptionNoticeLines(reports, 'completion').filter((l) => l.includes('support@apheris.com'));
    expect(line).toContain("this run's wrap-up mail did not reach it");
    expect(line).toContain('the HOWTO "Deploying on AWS EKS"');
  });

  test('all confirmed: no line at all', () => {
    const fine = [assessTopic('support', SUPPORT_ARN, ['support@apheris.com'], [confirmed(SUPPORT_ARN, 'support@apheris.com')])];
    expect(subscriptionNoticeLines(fine, 'approval')).toEqual([]);
    expect(notConfirmed(fine)).toEqual([]);
  });
});

describe('subscriptionNotice: best effort, never throws', () => {
  const targets = [
    { topic: 'support' as const, topicArn: SUPPORT_ARN, configured: ['support@apheris.com'] },
    { topic: 'operators' as const, topicArn: OPERATORS_ARN, configured: ['alice@example.com'] },
  ];

  test('lists each topic once and reports what is not confirmed', async () => {
    const list = jest.fn(async (arn: string) => (arn === SUPPORT_ARN ? [pending('support@apheris.com')] : [confirmed(OPERATORS_ARN, 'alice@example.com')]));
    const lines = await subscriptionNotice(targets, list, 'approval');
    expect(list.mock.calls.map(([arn]) => arn).sort()).toEqual([OPERATORS_ARN, SUPPORT_ARN]);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain('support@apheris.com has not confirmed');
  });

  test.each([
    ['throttled', Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })],
    ['denied', Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: SNS:ListSubscriptionsByTopic'), { name: 'AuthorizationError' })],
  ])('%s: one line saying it was not checked, best effort', async (_what, error) => {
    const lines = await subscriptionNotice(targets, async () => Promise.reject(error), 'approval');
    expect(lines[0]).toMatch(new RegExp(`^E-mail subscriptions: not checked \\(${error.name}: `));
    expect(lines[0]).toContain('best effort and did not hold up the run');
    expect(lines[0]).toContain('npx gateway-deployer subscriptions');
  });

  test('a listing that never answers: not checked after the timeout, the notice goes on', async () => {
    const lines = await subscriptionNotice(targets, () => new Promise(() => {}), 'completion', 20);
    expect(lines[0]).toMatch(/^E-mail subscriptions: not checked \(TimeoutError: no answer within 0.02 s\)/);
  });

  test('checkSubscriptions itself rejects (subscriptionNotice is what keeps it from the run)', async () => {
    await expect(checkSubscriptions(targets, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});
