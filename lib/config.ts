import * as fs from 'node:fs';
import * as path from 'node:path';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../lambdas/shared/domain/errors';
import { closest } from '../lambdas/shared/domain/issues';
import { parseGatewayConfig, type GatewayConfig, type GatewayConfigInput } from '../lambdas/shared/domain/gateway-config';

export type { GatewayConfig, GatewayConfigInput };

/**
 * The built-in example: what `cdk synth` uses with zero configuration. Its account is AWS's documentation
 * account, so deploying it by mistake fails at once instead of touching a real gateway.
 */
export const EXAMPLE_CONFIG: GatewayConfigInput = {
  gatewayName: 'gateway',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: 'gateway/values.yaml',
  module: {
    aws_auth_roles: [],
    aws_auth_users: [],
  },
  notifications: { supportEmails: ['support@apheris.com'], operatorEmails: [] },
  // A role in the documentation account: nobody can approve a plan of the example stack.
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
};

/** The deployer stack's name for a gateway: bin/app.ts names it so, and the operator CLI looks for it so. */
export const deployerStackName = (gatewayName: string): string => `GatewayDeployer-${gatewayName}`;

/**
 * Reads the operator's configuration: `cdk synth -c gatewayConfig=path/to/gateway.yaml` (or the GATEWAY_CONFIG
 * environment variable), JSON or YAML; without either, the built-in example.
 */
export function loadGatewayConfig(configPath: string | undefined): { config: GatewayConfig; source: string } {
  if (!configPath) {
    return { config: parseGatewayConfig(EXAMPLE_CONFIG, 'built-in example config'), source: 'built-in example' };
  }
  const resolved = path.resolve(configPath);
  if (!fs.existsSync(resolved)) {
    throw new Error(`gateway config file ${resolved} does not exist (set by -c gatewayConfig or GATEWAY_CONFIG)`);
  }
  const text = fs.readFileSync(resolved, 'utf-8');
  let raw: unknown;
  try {
    raw = /\.json$/i.test(resolved) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new Error(`gateway config file ${resolved} is not valid ${/\.json$/i.test(resolved) ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  const config = parseGatewayConfig(raw, `gateway config ${resolved}`);
  checkKnownRegions(config, `gateway config ${resolved}`);
  return { config, source: resolved };
}

/**
 * The regions must be ones AWS has (as CDK knows them): the schema checks only their shape, and a misspelt region
 * such as eu-centrl-1 would otherwise synthesize and fail only at deploy time.
 */
export function checkKnownRegions(config: GatewayConfig, source: string): void {
  const known = RegionInfo.regions.map((r) => r.name);
  const problems = [
    ['target.region', config.target.region],
    ['backend.region', config.backend.region],
  ].flatMap(([field, region]) => {
    if (region === undefined || known.includes(region)) return [];
    const near = closest(region, known);
    return [`- ${field}: ${region} is not an AWS region${near ? `; did you mean ${near}?` : ''}`];
  });
  if (problems.length > 0) throw new ConfigError(`${source} is invalid:\n${problems.join('\n')}`);
}
