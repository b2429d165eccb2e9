/**
 * The synthesized stack, made concrete for a rehearsal: every CloudFormation reference resolved to a name in
 * the emulator (prefixed per rehearsal), so the real state machine definition, Lambda environments and
 * CodeBuild projects can run locally.
 */
import type { GatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { sharedSynth } from '../support/build-cache';

export const REHEARSAL_ACCOUNT = '123456789012';
export const REHEARSAL_REGION = 'eu-central-1';

interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
}

export interface ResolvedStack {
  readonly definition: any;
  readonly resources: Record<string, CfnResource>;
  resolve(value: unknown): any;
  /** Physical name of a resource (what Ref gives). */
  ref(logicalId: string): string;
  arn(logicalId: string): string;
  logicalIdsOfType(type: string): string[];
}

const synthesized = new Map<string, Record<string, any>>();

/**
 * Synthesizes the app's stack for a config; assets are not bundled, since the rehearsal runs the sources. A
 * process synthesizes each config once (seconds each): rehearsals of the same config get a copy; in a jest run,
 * so do the other test files (test/support/build-cache.ts).
 */
export function synthesize(config: GatewayConfig): Record<string, any> {
  const key = JSON.stringify(config);
  if (!synthesized.has(key)) synthesized.set(key, sharedSynth(key, () => synthesizeOnce(config)));
  return structuredClone(synthesized.get(key)!);
}

function synthesizeOnce(config: GatewayConfig): Record<string, any> {
  // Loaded only here: a rehearsal that finds its template already synthesized never loads CDK.
  const { projectScratchApp } = require('../support/cdk-app') as typeof import('../support/cdk-app');
  const { Template } = require('aws-cdk-lib/assertions') as typeof import('aws-cdk-lib/assertions');
  const { GatewayDeployerStack } = require('../../lib/gateway-deployer-stack') as typeof import('../../lib/gateway-deployer-stack');
  // Assets are not bundled: the rehearsal runs the sources.
  const { app, remove } = projectScratchApp(false);
  const stack = new GatewayDeployerStack(app, `GatewayDeployer-${config.gatewayName}`, {
    config,
    env: { account: config.target.account, region: config.target.region },
  });
  try {
    return Template.fromStack(stack).toJSON();
  } finally {
    remove();
  }
}

/** The account and region the stack is resolved in: the config's target (the emulator answers as that account). */
export interface RehearsalTarget {
  readonly account: string;
  readonly region: string;
}

export function resolveStack(
  template: Record<string, any>,
  prefix: string,
  stackName: string,
  target: RehearsalTarget = { account: REHEARSAL_ACCOUNT, region: REHEARSAL_REGION },
): ResolvedStack {
  const { account, region } = target;
  const resources: Record<string, CfnResource> = template.Resources;
  const short = (id: string) => `${prefix}-${id}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/-+$/, '');
  const ref = (id: string): string => {
    const r = resources[id];
    if (!r) throw new Error(`template has no resource ${id}`);
    switch (r.Type) {
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${region}:${account}:${short(id)}`;
      case 'AWS::KMS::Key':
        // Shaped like a real key id (a version-4 UUID): Terraform's backend refuses other shapes.
        return `11111111-2222-4333-8444-${String(Math.abs(hash(id))).padStart(12, '0').slice(0, 12)}`;
      case 'AWS::Logs::LogGroup':
        return `/rehearsal/${short(id)}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${region}:${account}:stateMachine:${short(id)}`;
      default:
        return short(id);
    }
  };
  const arn = (id: string): string => {
    const r = resources[id];
    const name = ref(id);
    switch (r.Type) {
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${name}`;
      case 'AWS::DynamoDB::Table':
        return `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
        return name;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${region}:${account}:function:${name}`;
      case 'AWS::CodeBuild::Project':
        return `arn:aws:codebuild:${region}:${account}:project/${name}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${account}:role/${name}`;
      case 'AWS::KMS::Key':
        return `arn:aws:kms:${region}:${account}:key/${name}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${region}:${account}:log-group:${name}`;
      default:
        return `arn:aws:rehearsal:${region}:${account}:${name}`;
    }
  };
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stackName,
    'AWS::StackId': `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/rehearsal`,
  };
  const resolve = (value: unknown): any => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys;
      const v = o[k] as any;
      if (k === 'Ref') return pseudo[v] ?? ref(v);
      if (k === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(v) ? v : String(v).split('.');
        if (attr === 'Arn') return arn(id);
        return ref(id);
      }
      if (k === 'Fn::Join') return (resolve(v[1]) as unknown[]).join(v[0]);
      if (k === 'Fn::Select') return resolve(v[1])[Number(v[0])];
      if (k === 'Fn::Split') return String(resolve(v[1])).split(v[0]);
    }
    return Object.fromEntries(Object.entries(o).map(([key, val]) => [key, resolve(val)]));
  };
  const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const definition = JSON.parse(resolve(machines[0].Properties!.DefinitionString));
  return {
    definition,
    resources,
    resolve,
    ref,
    arn,
    logicalIdsOfType: (type) => Object.entries(resources).filter(([, r]) => r.Type === type).map(([id]) => id),
  };
}

function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return h;
}
