/**
 * GatewayDeployer as a platform team would use it: in its own CDK app, without this repository's cdk.json (no
 * feature flags in the context), in a Stack of its own and inside a Stage, with the config as plain data.
 */
import { Stack, Stage } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GatewayDeployer } from '../../lib/gateway-deployer';
import { GatewayDeployerStack } from '../../lib/gateway-deployer-stack';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { scratchApp } from '../support/cdk-app';

const ENV = { account: EXAMPLE_CONFIG.target.account, region: EXAMPLE_CONFIG.target.region };
/** A bare app: no feature flags; only asset bundling is left out, as in the other CDK tests. */
const bareApp = () => scratchApp({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });

/** Every S3 bucket's access-log delivery: by bucket policy, never the LogDeliveryWrite ACL. */
function expectLogDeliveryByPolicy(template: Template): void {
  const buckets = Object.values(template.findResources('AWS::S3::Bucket'));
  expect(buckets.length).toBeGreaterThanOrEqual(3);
  for (const bucket of buckets) expect(bucket.Properties?.AccessControl).toBeUndefined();
  const policies = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
  expect(policies).toContain('logging.s3.amazonaws.com');
}

test('in a bare app\'s own Stack, with the config as plain data: it synthesizes, access logs by bucket policy', () => {
  const { app, remove } = bareApp();
  try {
    const stack = new Stack(app, 'PlatformStack', { env: ENV });
    const deployer = new GatewayDeployer(stack, 'Gateway', { config: EXAMPLE_CONFIG });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    expectLogDeliveryByPolicy(template);
    expect(deployer.config.gatewayName).toBe(EXAMPLE_CONFIG.gatewayName);
  } finally {
    remove();
  }
});

test('inside another app\'s Stage', () => {
  const { app, remove } = bareApp();
  try {
    const stage = new Stage(app, 'Prod', { env: ENV });
    const stack = new Stack(stage, 'Gateways');
    new GatewayDeployer(stack, 'Gateway', { config: EXAMPLE_CONFIG });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CodeBuild::Project', 3);
    expectLogDeliveryByPolicy(template);
    expect(() => stage.synth()).not.toThrow();
  } finally {
    remove();
  }
});

test('a bad config in the props is refused there, naming the field', () => {
  const { app, remove } = bareApp();
  try {
    const stack = new Stack(app, 'PlatformStack', { env: ENV });
    expect(() => new GatewayDeployer(stack, 'Gateway', { config: { ...EXAMPLE_CONFIG, gatewayName: undefined } as never })).toThrow(/gatewayName[\s\S]*required/);
    expect(() => new GatewayDeployer(stack, 'Other', { config: { ...EXAMPLE_CONFIG, target: { ...EXAMPLE_CONFIG.target, region: 'eu-centrl-1' } } })).toThrow(
      /target.region: eu-centrl-1 is not an AWS region; did you mean eu-central-1\?/,
    );
  } finally {
    remove();
  }
});

test('GatewayDeployerStack wraps it without renaming anything: its outputs and resources keep their own logical ids', () => {
  const { app, remove } = bareApp();
  try {
    const stack = new GatewayDeployerStack(app, 'GatewayDeployer-gateway', { env: ENV, config: parseGatewayConfig(EXAMPLE_CONFIG) });
    const template = Template.fromStack(stack);
    expect(Object.keys(template.toJSON().Outputs)).toEqual(expect.arrayContaining(['StateMachineArn', 'ApprovalFunctionName', 'TerraformRoleArn', 'PlanRoleArn']));
    expect(stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never)).toMatch(/^Workflow/);
    expect(stack.getLogicalId(stack.artifacts.table.node.defaultChild as never)).toMatch(/^Artifacts/);
  } finally {
    remove();
  }
});
