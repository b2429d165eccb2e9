import { Template } from 'aws-cdk-lib/assertions';
import { EXAMPLE_CONFIG, type GatewayConfigInput } from '../../lib/config';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { GatewayDeployerStack } from '../../lib/gateway-deployer-stack';
import { projectScratchApp } from '../support/cdk-app';

/**
 * Synthesizes the stack for a config (the built-in example by default). The default synthesis really bundles the
 * Lambdas and the build helpers with esbuild; variants skip bundling, which only their assets would differ by.
 */
export function synth(overrides: Partial<GatewayConfigInput> = {}, bundle = Object.keys(overrides).length === 0): { stack: GatewayDeployerStack; template: Template } {
  const config = parseGatewayConfig({ ...EXAMPLE_CONFIG, ...overrides });
  const { app, remove } = projectScratchApp(bundle);
  const stack = new GatewayDeployerStack(app, 'Test', { config, env: { account: config.target.account, region: config.target.region } });
  try {
    // The app keeps the synthesized assembly in memory; later synths of it do not read the folder.
    return { stack, template: Template.fromStack(stack) };
  } finally {
    remove();
  }
}

export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Retry?: Array<{ ErrorEquals: string[]; MaxAttempts?: number }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string; ResultPath?: string | null }>;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  Choices?: Array<{ Next: string; [key: string]: unknown }>;
  Default?: string;
  [key: string]: unknown;
}

/** The state machine definition as JSON, with CloudFormation references replaced by a placeholder string. */
export function definitionOf(template: Template): { StartAt: string; TimeoutSeconds?: number; QueryLanguage?: string; States: Record<string, AslState> } {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.values(machines);
  const def = machine.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] } | string;
  const text = typeof def === 'string' ? def : def['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '${Token}')).join('');
  return JSON.parse(text);
}

/** A CloudFormation value that may be one item or a list, as a list. */
export const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Does an IAM action pattern (with * and ?) cover this action? */
export const covers = (pattern: string, action: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i').test(action);

/** The logical ids a CloudFormation value refers to (Ref, Fn::GetAtt), pseudo parameters aside. */
export function referencedIds(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (value === null || typeof value !== 'object') return [];
  const node = value as Record<string, unknown>;
  if (typeof node.Ref === 'string') return node.Ref.startsWith('AWS::') ? [] : [node.Ref];
  if (Array.isArray(node['Fn::GetAtt'])) return [node['Fn::GetAtt'][0] as string];
  return Object.values(node).flatMap(referencedIds);
}
