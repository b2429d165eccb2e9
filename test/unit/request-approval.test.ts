/**
 * RequestApproval: the task token is stored (never mailed), and operators get one message describing the plan.
 */
import type { PendingApproval } from '../../lambdas/shared/adapters/approvals';
import { requestApproval, type Deployment, type RequestApprovalEvent, type RequestApprovalPorts } from '../../lambdas/request-approval/request';

/** Distinctive, so any leak into a message is found by a plain substring search. */
const TASK_TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAQ-TOKEN-CANARY-7f3c9e1d-b2a4-4e6f-8d0c-5a9b3e2f1c7d';
const NOW = new Date('2024-06-01T08:15:30.500Z');
const NOW_EPOCH = Math.floor(NOW.getTime() / 1000);
const EXECUTION_ARN = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-7';

const PLAN_SHA256 = '5e'.repeat(32);

const deployment: Deployment = { artifactsBucket: 'gw-artifacts-123456789012', stackName: 'GatewayDeployer-gw-prod', region: 'eu-central-1' };

function event(approval?: Record<string, unknown>, overrides: Partial<RequestApprovalEvent> = {}): RequestApprovalEvent {
  return {
    taskToken: TASK_TOKEN,
    executionArn: EXECUTION_ARN,
    executionName: 'run-7',
    approvalState: 'RequestApproval',
    subjectBuildId: 'gw-prod-plan:0b1c2d3e',
    config: JSON.stringify({
      gatewayName: 'gw-prod',
      target: { account: '123456789012', region: 'eu-central-1' },
      valuesSecretName: 'gateways/prod/values',
      approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'], ...approval },
    }),
    preflight: { gateway: 'gw-prod', version: '0.9.0', previousVersion: '0.8.1', change: 'upgrade' },
    analysis: {
      line: 'Plan: 1 to add, 1 to change, 1 to destroy.',
      changes: [
        { address: 'module.gateway.helm_release.gateway', action: 'update' },
        { address: 'module.gateway.kubernetes_config_map.settings', action: 'replace' },
      ],
      changesNotListed: 0,
      risk: { level: 'medium', reasons: ['replaces module.gateway.kubernetes_config_map.settings'] },
      because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
      planTextKey: 'plans/gw-prod/run-7/plan.redacted.txt',
      planJsonKey: 'plans/gw-prod/run-7/plan.redacted.json',
      planSha256: PLAN_SHA256,
    },
    ...overrides,
  };
}

function fakePorts() {
  const calls: string[] = [];
  const stored: PendingApproval[] = [];
  const published: Array<{ subject: string; text: string }> = [];
  const ports: RequestApprovalPorts = {
    async store(approval) {
      calls.push('store');
      stored.push(approval);
    },
    async publish(subject, text) {
      calls.push('publish');
      published.push({ subject, text });
    },
    now: () => NOW,
  };
  return { ports, calls, stored, published };
}

describe('requestApproval', () => {
  test('stores the pending approval with the token, then publishes once', async () => {
    const fake = fakePorts();
    await requestApproval(event(), fake.ports, deployment);
    expect(fake.calls).toEqual(['store', 'publish']);
    expect(fake.stored).toEqual([
      {
        executionName: 'run-7',
        executionArn: EXECUTION_ARN,
        gateway: 'gw-prod',
        // One item per round (this approval state and the Plan build it asks about), with the digest it shows.
        round: 'RequestApproval#gw-prod-plan:0b1c2d3e',
        taskToken: TASK_TOKEN,
        planSha256: PLAN_SHA256,
        requestedAt: '2024-06-01T08:15:30.500Z',
        // The default timeout (24 h) plus a day, in epoch seconds.
        expiresAt: NOW_EPOCH + (24 + 24) * 3600,
      },
    ]);
    expect(Number.isInteger(fake.stored[0].expiresAt)).toBe(true);
    expect(fake.published).toHaveLength(1);
  });

  test.each([1, 12, 168])('expiresAt follows approval.timeoutHours = %d', async (timeoutHours) => {
    const fake = fakePorts();
    await requestApproval(event({ timeoutHours }), fake.ports, deployment);
    expect(fake.stored[0].expiresAt).toBe(NOW_EPOCH + (timeoutHours + 24) * 3600);
    expect(fake.published[0].text).toContain(`within ${timeoutHours} h`);
  });

  test('the message describes the plan, with the S3 URLs and the commands', async () => {
    const fake = fakePorts();
    await requestApproval(event({ timeoutHours: 8 }), fake.ports, deployment);
    const { subject, text } = fake.published[0];
    expect(subject).toBe('Compute Gateway gw-prod: approve upgrade to 0.9.0? Plan: 1 to add, 1 to change, 1 to destroy.');
    expect(text).toContain('Gateway gw-prod: upgrade 0.8.1 → 0.9.0 waits for your approval.');
    expect(text).toContain('  -/+ module.gateway.kubernetes_config_map.settings');
    expect(text).toContain('Full plan (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/run-7/plan.redacted.txt');
    expect(text).toContain('Plan JSON (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/run-7/plan.redacted.json');
    expect(text).toContain(`What an approval approves: sha256 ${PLAN_SHA256}.`);
    expect(text).toContain(`approve --stack GatewayDeployer-gw-prod --region eu-central-1 --execution run-7 --plan-sha256 ${PLAN_SHA256}`);
    expect(text).toContain('reject  --stack GatewayDeployer-gw-prod --region eu-central-1 --execution run-7');
  });

  test('a first install says so', async () => {
    const fake = fakePorts();
    const base = event();
    await requestApproval({ ...base, preflight: { ...base.preflight, previousVersion: null, change: 'install' } }, fake.ports, deployment);
    expect(fake.published[0].text).toContain('install 0.9.0 (first install)');
  });

  test('the task token never reaches the subject or the text', async () => {
    const fake = fakePorts();
    await requestApproval(event(), fake.ports, deployment);
    const { subject, text } = fake.published[0];
    for (const part of [TASK_TOKEN, 'TOKEN-CANARY', TASK_TOKEN.slice(0, 20)]) {
      expect(subject).not.toContain(part);
      expect(text).not.toContain(part);
    }
  });

  test('an invalid config: nothing stored, nothing published', async () => {
    const fake = fakePorts();
    await expect(requestApproval(event(undefined, { config: '{' }), fake.ports, deployment)).rejects.toThrow('not valid JSON');
    expect(fake.calls).toEqual([]);
  });

  test('a failing store: nothing is published (no mail for an approval nobody could give)', async () => {
    const fake = fakePorts();
    const ports: RequestApprovalPorts = {
      ...fake.ports,
      store: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    };
    await expect(requestApproval(event(), ports, deployment)).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(fake.published).toEqual([]);
  });
});

describe('requestApproval: a detach-vpc run', () => {
  test('the message names the operation from the Preflight result and lists the addresses to forget', async () => {
    const fake = fakePorts();
    const list = 'reports/gw-prod/run-7/detach-vpc.json';
    await requestApproval(
      event(undefined, {
        preflight: { gateway: 'gw-prod', version: '0.9.0', previousVersion: '0.9.0', change: 'same', operation: 'detach-vpc' },
        analysis: {
          line: 'Detach from Terraform state: 1 module.vpc resource (nothing is destroyed in AWS)',
          changes: [{ address: 'module.gateway.module.vpc.aws_vpc.this[0]', action: 'forget' }],
          changesNotListed: 0,
          risk: { level: 'medium', reasons: ['Terraform stops managing 1 module.vpc resource(s)'] },
          because: 'detaching resources from the Terraform state is always approved by an operator',
          planTextKey: list,
          planJsonKey: list,
          planSha256: PLAN_SHA256,
        },
      }),
      fake.ports,
      deployment,
    );
    const [{ subject, text }] = fake.published;
    expect(subject).toContain('Compute Gateway gw-prod: approve detach-vpc? Detach from Terraform state');
    expect(text).toContain('Gateway gw-prod: detach-vpc of the deployed 0.9.0 waits for your approval.');
    expect(text).toContain('forget module.gateway.module.vpc.aws_vpc.this[0]');
    expect(text).toContain(`Details: s3://${deployment.artifactsBucket}/${list}`);
  });
});

describe('requestApproval: the e-mail subscriptions (best effort)', () => {
  const topics = { support: 'arn:aws:sns:eu-central-1:123456789012:Support', operators: 'arn:aws:sns:eu-central-1:123456789012:Operators' };
  const withAddresses = (notifications: Record<string, unknown>) => {
    const e = event();
    return { ...e, config: JSON.stringify({ ...JSON.parse(e.config), notifications }) };
  };

  test('an unconfirmed support address and a missing operator are in the request, with the resend command', async () => {
    const fake = fakePorts();
    const listSubscriptions = jest.fn(async (arn: string) =>
      arn === topics.support
        ? [{ SubscriptionArn: 'PendingConfirmation', Protocol: 'email', Endpoint: 'support@apheris.com' }]
        : [{ SubscriptionArn: `${topics.operators}:1`, Protocol: 'email', Endpoint: 'alice@example.com' }],
    );
    await requestApproval(withAddresses({ supportEmails: ['support@apheris.com'], operatorEmails: ['alice@example.com', 'bob@example.com'] }), { ...fake.ports, listSubscriptions }, { ...deployment, topics });
    const [{ text }] = fake.published;
    expect(text).toContain(
      '  ! support@apheris.com has not confirmed its subscription to the support topic: the wrap-up mail will not reach it; run npx gateway-deployer subscriptions --resend',
    );
    expect(text).toContain('  ! bob@example.com has no subscription to the operators topic');
    expect(text).toContain('nor does this mail: it reaches the confirmed operators only');
    expect(text).not.toContain('alice@example.com');
    expect(fake.calls).toEqual(['store', 'publish']);
  });

  test.each([
    ['throttled', Object.assign(new Error('Rate exceeded'), { name: 'Throttling' })],
    ['denied', Object.assign(new Error('not authorized to perform: SNS:ListSubscriptionsByTopic'), { name: 'AuthorizationError' })],
  ])('a check that fails (%s) neither stops the run nor the request: it says it was not checked', async (_what, error) => {
    const fake = fakePorts();
    await requestApproval(event(), { ...fake.ports, listSubscriptions: async () => Promise.reject(error) }, { ...deployment, topics });
    expect(fake.calls).toEqual(['store', 'publish']);
    expect(fake.published[0].text).toContain(`E-mail subscriptions: not checked (${error.name}: `);
    expect(fake.published[0].text).toContain('best effort');
  });

  test('all confirmed: nothing about subscriptions; no topics known: not checked at all', async () => {
    const fake = fakePorts();
    const listSubscriptions = jest.fn(async (arn: string) => (arn === topics.support ? [{ SubscriptionArn: `${arn}:1`, Protocol: 'email', Endpoint: 'support@apheris.com' }] : []));
    await requestApproval(event(), { ...fake.ports, listSubscriptions }, { ...deployment, topics });
    expect(fake.published[0].text).not.toContain('subscription');
    await requestApproval(event(), { ...fake.ports, listSubscriptions }, deployment);
    expect(listSubscriptions).toHaveBeenCalledTimes(2);
  });
});
