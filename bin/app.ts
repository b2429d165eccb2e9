#!/usr/bin/env node
import { Annotations, App, Validations } from 'aws-cdk-lib';
import { deployerStackName, loadGatewayConfig } from '../lib/config';
import { GatewayDeployerStack } from '../lib/gateway-deployer-stack';

const app = new App();
// Opt-in: `npx cdk synth -c nag=true` also runs cdk-nag's AwsSolutions checks (a devDependency, so loaded only then)
// and stops on any finding not acknowledged in the stack code (lib/nag.ts); test/cdk/nag.test.ts runs the same.
if ([true, 'true'].includes(app.node.tryGetContext('nag'))) {
  const { AwsSolutionsChecks } = require('cdk-nag') as typeof import('cdk-nag');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
const configPath = (app.node.tryGetContext('gatewayConfig') as string | undefined) ?? process.env.GATEWAY_CONFIG;

/** A config that cannot be read or is invalid: its message, no stack trace (`-c verbose=true` keeps the trace). */
function loadConfigOrExit(): ReturnType<typeof loadGatewayConfig> {
  try {
    return loadGatewayConfig(configPath);
  } catch (error) {
    if ([true, 'true'].includes(app.node.tryGetContext('verbose'))) throw error;
    console.error(`${(error as Error).message}\n(npx cdk synth -c verbose=true shows where it failed)`);
    process.exit(1);
  }
}
const { config, source } = loadConfigOrExit();

// Pinned to the target account and region: `cdk deploy` with credentials for another account fails at once.
const stack = new GatewayDeployerStack(app, deployerStackName(config.gatewayName), {
  config,
  env: { account: config.target.account, region: config.target.region },
  description: `Compute Gateway deployer for gateway "${config.gatewayName}" (config: ${source === 'built-in example' ? source : 'file'})`,
});
if (source === 'built-in example') {
  Annotations.of(stack).addWarningV2('gateway-deployer:example-config', 'Synthesized with the built-in example config; pass -c gatewayConfig=<file> for a real gateway.');
}
