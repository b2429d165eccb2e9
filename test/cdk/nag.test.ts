import { Validations, type Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { GatewayDeployerStack } from '../../lib/gateway-deployer-stack';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { projectScratchApp } from '../support/cdk-app';
import { synth } from './support';

/**
 * cdk-nag's AwsSolutions pack on the synthesized stack: no finding, error or warning, may stand unacknowledged, and
 * every acknowledgment (lib/nag.ts, made next to the code it concerns) must be specific, reasoned and still needed.
 * cdk-nag v3 is a policy-validation plugin, not an Aspect: it reports violations (error or warning) instead of
 * annotations, and reads the acknowledgments of `Validations.of(construct).acknowledge()`.
 */
interface Finding {
  rule: string;
  path: string;
  severity: string;
  description: string;
}

function findings(scope: IConstruct, { ignoreAcknowledgments = false } = {}): Finding[] {
  const pack = new AwsSolutionsChecks(undefined, { verbose: true });
  // What cdk-nag would report without any acknowledgment: proves each acknowledgment still matches a finding.
  // (If cdk-nag renamed this private method, every acknowledgment would look stale and the test would fail.)
  if (ignoreAcknowledgments) (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack
    .validateScope(scope)
    .violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath ?? '', severity: v.severity ?? 'error', description: v.description })));
}

function acknowledgments(scope: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason })))
      .filter((a) => a.id.startsWith('AwsSolutions-')),
  );
}

const describe_ = (f: Finding) => `${f.severity} ${f.rule} at ${f.path}: ${f.description.split('\n')[0]}`;
const under = (ackPath: string, resourcePath: string) => resourcePath === ackPath || resourcePath.startsWith(`${ackPath}/`);

function checkAcknowledgments(stack: Stack): string[] {
  const raw = findings(stack, { ignoreAcknowledgments: true });
  return acknowledgments(stack).flatMap(({ path: ackPath, id, reason }) => {
    const problems: string[] = [];
    if (ackPath === stack.node.path || !ackPath.startsWith(`${stack.node.path}/`)) problems.push(`${id} is acknowledged on ${ackPath || 'the app'}, not on a resource`);
    if (/^AwsSolutions-IAM[45]$/.test(id)) problems.push(`${id} at ${ackPath} acknowledges the whole rule; name the finding (Action::, Resource::, Policy::)`);
    if (reason.trim().length < 80) problems.push(`${id} at ${ackPath}: the reason is too short to convince a reviewer: "${reason}"`);
    if (!raw.some((f) => f.rule === id && under(ackPath, f.path))) problems.push(`${id} at ${ackPath} matches no finding any more: remove it`);
    return problems;
  });
}

// Not bundled: the rules look at resources and policies, never at the code inside an asset (bundling costs ~10 s).
describe('cdk-nag AwsSolutions, the example config', () => {
  const { stack } = synth({}, false);

  test('no unacknowledged error or warning', () => {
    expect(findings(stack).map(describe_)).toEqual([]);
  });

  test('every acknowledgment is on a resource, names its finding, gives a reason and is still needed', () => {
    expect(checkAcknowledgments(stack)).toEqual([]);
  });

  test('AWS managed policies are acknowledged only for the two Terraform roles and CDK\'s notifications handler', () => {
    const managed = acknowledgments(stack).filter((a) => a.id.startsWith('AwsSolutions-IAM4['));
    expect(managed.map((a) => `${a.path} ${a.id}`).sort()).toEqual([
      'Test/BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Role AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'Test/Default/Terraform/PlanRole AwsSolutions-IAM4[Policy::arn:aws:iam::aws:policy/ReadOnlyAccess]',
      'Test/Default/Terraform/Role AwsSolutions-IAM4[Policy::arn:aws:iam::aws:policy/AdministratorAccess]',
    ]);
    expect(managed.find((a) => a.path === 'Test/Default/Terraform/Role')!.reason).toMatch(/No permissions boundary is configured/);
  });

  test('only IAM findings are acknowledged: the Lambdas run nodejs24.x, the newest runtime, so there is no runtime finding', () => {
    const rules = new Set(acknowledgments(stack).map((a) => a.id.replace(/\[.*$/, '')));
    expect([...rules].sort()).toEqual(['AwsSolutions-IAM4', 'AwsSolutions-IAM5']);
  });
});

describe('cdk-nag AwsSolutions as the validation plugin of `cdk synth -c nag=true`, every optional grant on', () => {
  const config = parseGatewayConfig({
    ...EXAMPLE_CONFIG,
    module: { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0640da74d7ffb177f'] },
    customGatewayTfKey: 'custom/gateway.tf',
    valuesSecretKmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    drift: { schedule: 'rate(1 day)' },
    notifications: { supportEmails: ['support@apheris.com'], operatorEmails: ['ops@example.com'] },
    terraform: {
      managedPolicyArns: ['arn:aws:iam::aws:policy/PowerUserAccess', 'arn:aws:iam::aws:policy/IAMFullAccess', 'arn:aws:iam::123456789012:policy/gateway-terraform'],
      permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/gateway-boundary',
    },
  });
  const { app, remove } = projectScratchApp(false);
  afterAll(remove);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new GatewayDeployerStack(app, 'Full', { config, env: { account: config.target.account, region: config.target.region } });

  test('synthesis passes the plugin (it stops on any unacknowledged finding)', () => {
    expect(() => app.synth()).not.toThrow();
    expect(findings(stack).map(describe_)).toEqual([]);
  });

  test('its acknowledgments are specific and needed too, and name the permissions boundary', () => {
    expect(checkAcknowledgments(stack)).toEqual([]);
    const terraform = acknowledgments(stack).filter((a) => a.path === 'Full/Default/Terraform/Role' && a.id.startsWith('AwsSolutions-IAM4['));
    expect(terraform.map((a) => a.id).sort()).toEqual([
      'AwsSolutions-IAM4[Policy::arn:aws:iam::aws:policy/IAMFullAccess]',
      'AwsSolutions-IAM4[Policy::arn:aws:iam::aws:policy/PowerUserAccess]',
    ]);
    for (const a of terraform) expect(a.reason).toContain('arn:aws:iam::123456789012:policy/gateway-boundary');
  });
});
