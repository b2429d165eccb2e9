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
