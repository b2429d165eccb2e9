#!/usr/bin/env node
import { Annotations, App } from 'aws-cdk-lib';
import { deployerStackName, loadGatewayConfig } from '../lib/config';
import { GatewayDeployerStack } from '../lib/gateway-deployer-stack';

const app = new App();
const configPath = (app.node.tryGetContext('gatewayConfig') as string | undefined) ?? process.env.GATEWAY_CONFIG;
const { config, source } = loadGatewayConfig(configPath);

// Pinned to the target account and region: `cdk deploy` with credentials for another account fails at once.
const stack = new GatewayDeployerStack(app, deployerStackName(config.gatewayName), {
  config,
  env: { account: config.target.account, region: config.target.region },
  description: `Compute Gateway deployer for gateway "${config.gatewayName}" (config: ${source === 'built-in example' ? source : 'file'})`,
});
if (source === 'built-in example') {
  Annotations.of(stack).addWarningV2('gateway-deployer:example-config', 'Synthesized with the built-in example config; pass -c gatewayConfig=<file> for a real gateway.');
}
