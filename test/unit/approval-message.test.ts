/**
 * The approval request operators read in their mail: what changes, how risky, where the full plan is, and the
 * exact commands to answer. Built from facts only: the task token is never among them.
 */
import { approvalRequestMessage, type ApprovalRequestFacts } from '../../lambdas/shared/domain/messages';

const facts = (overrides: Partial<ApprovalRequestFacts> = {}): ApprovalRequestFacts => ({
  gateway: 'gw-prod',
  executionName: 'run-2024-06-01-0815',
  stackName: 'GatewayDeployer-gw-prod',
  region: 'eu-central-1',
  fromVersion: '0.8.1',
  toVersion: '0.9.0',
  change: 'upgrade',
  line: 'Plan: 2 to add, 1 to change, 2 to destroy.',
  changes: [
    { address: 'module.gateway.aws_s3_bucket.data', action: 'create' },
    { address: 'module.gateway.helm_release.gateway', action: 'update' },
    { address: 'module.gateway.kubernetes_config_map.settings', action: 'replace' },
    { address: 'module.gateway.aws_cloudwatch_log_group.old', action: 'delete' },
  ],
  changesNotListed: 7,
  riskLevel: 'medium',
  riskReasons: ['replaces module.gateway.kubernetes_config_map.settings', 'destroys module.gateway.aws_cloudwatch_log_group.old'],
  because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
  planTextUrl: 's3://gw-artifacts-123456789012/plans/gw-prod/run-2024-06-01-0815/plan.redacted.txt',
  planJsonUrl: 's3://gw-artifacts-123456789012/plans/gw-prod/run-2024-06-01-0815/plan.redacted.json',
  timeoutHours: 36,
  planSha256: 'c0ffee'.padEnd(64, '0'),
  ...overrides,
});

describe('approvalRequestMessage: the subject', () => {
  test('a short subject is kept whole', () => {
    const { subject } = approvalRequestMessage(facts({ line: 'Plan: 1 to add, 0 to change, 0 to destroy.' }));
    expect(subject).toBe('Compute Gateway gw-prod: approve upgrade to 0.9.0? Plan: 1 to add, 0 to change, 0 to destroy.');
    expect(subject.length).toBeLessThanOrEqual(100);
  });

  test('a long gateway name and line: cut below 100 characters (the SNS limit), ending in "…", no line break', () => {
    const { subject } = approvalRequestMessage(
      facts({
        gateway: 'gw-a-very-long-gateway-name-0001',
        change: 'downgrade',
        toVersion: '10.20.30-rc.12',
        line: 'Plan: 1234 to add, 5678 to change, 9012 to destroy.',
      }),
    );
    expect(subject.length).toBe(99);
    expect(subject.endsWith('…')).toBe(true);
    expect(subject.startsWith('Compute Gateway gw-a-very-long-gateway-name-0001: approve downgrade to 10.20.30-rc.12?')).toBe(true);
    expect(subject).not.toMatch(/[\r\n]/);
  });

  test('99 characters are kept whole, 100 are cut', () => {
    const prefix = 'Compute Gateway gw-prod: approve upgrade to 0.9.0? ';
    const line = 'x'.repeat(99 - prefix.length);
    expect(approvalRequestMessage(facts({ line })).subject).toBe(prefix + line);
    const cut = approvalRequestMessage(facts({ line: `${line}y` })).subject;
    expect(cut).toHaveLength(99);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('approvalRequestMessage: the text', () => {
  const { text } = approvalRequestMessage(facts());

  test('names the gateway, the change and the versions', () => {
    expect(text).toContain('Gateway gw-prod: upgrade 0.8.1 → 0.9.0 waits for your approval.');
  });

  test('a first install has no "from" version', () => {
    const first = approvalRequestMessage(facts({ fromVersion: null, change: 'install' })).text;
    expect(first).toContain('Gateway gw-prod: install 0.9.0 (first install) waits for your approval.');
    expect(first).not.toContain('→');
    expect(first).not.toContain('null');
  });

  test('carries the plan summary line, the risk and its reasons, and why it asks', () => {
    expect(text).toContain('\nPlan: 2 to add, 1 to change, 2 to destroy.\n');
    expect(text).toContain('\nRisk: medium\n');
    expect(text).toContain('  - replaces module.gateway.kubernetes_config_map.settings');
    expect(text).toContain('  - destroys module.gateway.aws_cloudwatch_log_group.old');
    expect(text).toContain('Asked because every plan is approved by an operator (approval.autoApproveS3Upgrades is off).');
  });

  test('a low-risk plan without reasons says so', () => {
    const low = approvalRequestMessage(facts({ riskLevel: 'low', riskReasons: [] })).text;
    expect(low).toContain('Risk: low (only creates and in-place updates)');
  });

  test('lists every change with its Terraform mark', () => {
    expect(text).toContain('\n  +   module.gateway.aws_s3_bucket.data\n');
    expect(text).toContain('\n  ~   module.gateway.helm_release.gateway\n');
    expect(text).toContain('\n  -/+ module.gateway.kubernetes_config_map.settings\n');
    expect(text).toContain('\n  -   module.gateway.aws_cloudwatch_log_group.old\n');
  });

  test('counts the changes left out, and only when there are some', () => {
    expect(text).toContain('  … and 7 more (see the full plan)');
    expect(approvalRequestMessage(facts({ changesNotListed: 0 })).text).not.toContain('more (see the full plan)');
  });

  test('points at both stored plans', () => {
    expect(text).toContain('Full plan (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/run-2024-06-01-0815/plan.redacted.txt');
    expect(text).toContain('Plan JSON (redacted): s3://gw-artifacts-123456789012/plans/gw-prod/run-2024-06-01-0815/plan.redacted.json');
  });

  test('gives the approve and reject commands with stack, region and execution', () => {
    const args = `--stack GatewayDeployer-gw-prod --region eu-central-1 --execution run-2024-06-01-0815 --plan-sha256 ${'c0ffee'.padEnd(64, '0')} --reason "<why>"`;
    expect(text).toContain(`npx gateway-deployer approve ${args}`);
    expect(text).toContain(`npx gateway-deployer reject  ${args}`);
  });

  test('states the timeout in hours', () => {
    expect(text).toContain('Approve or reject within 36 h (then the run fails)');
  });

  test('the whole message', () => {
    expect(approvalRequestMessage(facts())).toMatchSnapshot();
  });
});

describe('approvalRequestMessage: no task token', () => {
  test('the facts type has no token field', () => {
    type TokenKeys = Extract<keyof ApprovalRequestFacts, `${string}oken${string}` | `${string}Token${string}`>;
    const noTokenField: [TokenKeys] extends [never] ? true : false = true;
    expect(noTokenField).toBe(true);
    const withToken = {
      ...facts(),
      // @ts-expect-error the facts carry no task token, so an object literal cannot add one
      taskToken: 'AQB4AAAAKgAAAAMAAAAAAAAAAS7Bq',
    } satisfies ApprovalRequestFacts;
    expect(withToken).toBeDefined();
  });

  test('a token smuggled in at run time does not reach the message', () => {
    const token = 'TASKTOKEN-AAAAKgAAAAMAAAAAAAAAAZZZ-canary';
    const smuggled = { ...facts(), taskToken: token, token } as ApprovalRequestFacts;
    const { subject, text } = approvalRequestMessage(smuggled);
    expect(subject).not.toContain(token);
    expect(text).not.toContain(token);
    expect(text).not.toMatch(/token/i);
  });
});

describe('approvalRequestMessage: a detach-vpc run', () => {
  const LIST = 's3://gw-artifacts-123456789012/reports/gw-prod/run-7/detach-vpc.json';
  const detach = facts({
    operation: 'detach-vpc',
    fromVersion: '0.9.0',
    toVersion: '0.9.0',
    change: 'same',
    line: 'Detach from Terraform state: 2 module.vpc resources (nothing is destroyed in AWS)',
    changes: [
      { address: 'module.gateway.module.vpc.aws_vpc.this[0]', action: 'forget' },
      { address: 'module.gateway.module.vpc.aws_subnet.private[0]', action: 'forget' },
    ],
    changesNotListed: 0,
    riskReasons: ['Terraform stops managing 2 module.vpc resource(s)'],
    because: 'detaching resources from the Terraform state is always approved by an operator',
    planTextUrl: LIST,
    planJsonUrl: LIST,
  });

  test('names the operation and the deployed version, lists every address to forget, points at the list once', () => {
    const { subject, text } = approvalRequestMessage(detach);
    expect(subject).toBe('Compute Gateway gw-prod: approve detach-vpc? Detach from Terraform state: 2 module.vpc resources (nothing is destroyed in AWS)'.slice(0, 98) + '…');
    expect(text).toContain('Gateway gw-prod: detach-vpc of the deployed 0.9.0 waits for your approval.');
    expect(text).toContain('  forget module.gateway.module.vpc.aws_vpc.this[0]\n  forget module.gateway.module.vpc.aws_subnet.private[0]');
    expect(text).toContain(`Details: ${LIST}`);
    expect(text).not.toContain('Full plan');
    expect(text).not.toContain('same');
  });

  test('operation "deploy" reads as before', () => {
    expect(approvalRequestMessage(facts({ operation: 'deploy' }))).toEqual(approvalRequestMessage(facts()));
  });
});
