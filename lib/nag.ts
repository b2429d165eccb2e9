import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledging cdk-nag (AwsSolutions pack) findings next to the code that causes them. cdk-nag v3 reads CDK's own
 * `Validations.of(construct).acknowledge()` metadata, so nothing here imports cdk-nag: the stack synthesizes the
 * same with or without it, and `cdk synth -c nag=true` (bin/app.ts) agrees with test/cdk/nag.test.ts.
 *
 * Every acknowledgment names one finding, never a whole rule: `AwsSolutions-IAM5[Action::s3:GetObject*]`,
 * `AwsSolutions-IAM5[Resource::<ArtifactsBucket.Arn>/plans/*]`, `AwsSolutions-IAM4[Policy::arn:…:AdministratorAccess]`.
 * The test fails on any acknowledgment that no longer matches a finding.
 */
export function acknowledge(scope: IConstruct, rule: `AwsSolutions-${string}`, reason: string, findings?: readonly string[]): void {
  if (findings === undefined) {
    Validations.of(scope).acknowledge({ id: rule, reason });
    return;
  }
  for (const finding of findings) Validations.of(scope).acknowledge({ id: `${rule}[${finding}]`, reason });
}

/** The finding of a wildcard action, as AwsSolutions-IAM5 names it. */
export const nagAction = (action: string): string => `Action::${action}`;

/** The finding of a resource (an ARN, usually with tokens) as AwsSolutions-IAM5 names it: references flattened to `<Logical.Attr>`. */
export const nagResource = (scope: IConstruct, arn: string): string => `Resource::${flattenCfnReference(Stack.of(scope).resolve(arn))}`;

/** The finding of an AWS managed policy attached to a role, as AwsSolutions-IAM4 names it. */
export const nagPolicy = (scope: IConstruct, arn: string): string => `Policy::${flattenCfnReference(Stack.of(scope).resolve(arn))}`;

/** cdk-nag's flattening of a resolved CloudFormation value (its utils/flatten-cfn-reference), so the ids match. */
function flattenCfnReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/}/g, '>');
  const node = value as Record<string, unknown>;
  if (node['Fn::Join']) {
    const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
    return items.map(flattenCfnReference).join(delimiter);
  }
  if (node['Fn::Sub']) return flattenCfnReference(node['Fn::Sub']);
  if (node['Fn::GetAtt']) {
    const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
    return `<${flattenCfnReference(resource)}.${flattenCfnReference(attribute)}>`;
  }
  if (node['Fn::ImportValue']) return flattenCfnReference(node['Fn::ImportValue']);
  if (node.Ref) return `<${flattenCfnReference(node.Ref)}>`;
  return JSON.stringify(value);
}
