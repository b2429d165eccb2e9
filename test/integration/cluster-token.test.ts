/**
 * The cluster token the helm, kubectl and kubernetes providers use during Apply is minted during Apply, with the
 * real AWS provider (from the machine's filesystem mirror) and real Terraform against moto: the rendered
 * providers.tf.json's token expression is evaluated in a saved plan that is applied a few seconds later, and the
 * token's signing time (X-Amz-Date of its presigned STS request) is compared with the moment Apply started. The
 * HOWTO's form, `data "aws_eks_cluster_auth"`, fails the same test: its token is the one read at Plan.
 *
 * What is left out: the helm, kubectl and kubernetes providers cannot be had offline, so the token is observed
 * through a provisioner's environment (which, like a provider configuration, may use an ephemeral value) instead of
 * inside those providers; the module is a stub with the HOWTO's outputs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { renderProviders } from '../../lambdas/shared/domain/workspace';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { motoEndpoint } from './support/aws-clients';
import { awsProviderMirrorConfig, runTerraform, type TerraformResult } from './support/terraform';

jest.setTimeout(120_000);

let dir: string;
const tokens: Record<'rendered' | 'howto', string> = { rendered: '', howto: '' };
let planStarted: Date;
let applyStarted: Date;

/** When an EKS token was signed: the X-Amz-Date of the presigned GetCallerIdentity URL inside it. */
function signedAt(token: string): Date {
  if (!token.startsWith('k8s-aws-v1.')) throw new Error(`not an EKS token: ${token.slice(0, 20)}…`);
  const stamp = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf-8')).searchParams.get('X-Amz-Date') ?? '';
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) throw new Error(`token without X-Amz-Date: ${stamp}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

const ok = (r: TerraformResult, what: string) => {
  if (r.code !== 0) throw new Error(`terraform ${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
};

beforeAll(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-cluster-token-'));
  const config = parseGatewayConfig(EXAMPLE_CONFIG);
  const rendered = renderProviders(config) as {
    terraform: { required_providers: Record<string, unknown>; required_version: string };
    provider: { aws: object; helm: { kubernetes: { token: string } } };
    ephemeral: object;
  };
  // The rendered file as RenderWorkspace writes it, less the providers that cannot be had offline.
  const offline = {
    terraform: { required_providers: { aws: rendered.terraform.required_providers.aws }, required_version: rendered.terraform.required_version },
    provider: { aws: rendered.provider.aws },
    ephemeral: rendered.ephemeral,
  };
  await fs.promises.writeFile(path.join(dir, 'providers.tf.json'), JSON.stringify(offline, null, 2));
  // The AWS provider pointed at the emulator by an override file; the rendered file stays as it runs in AWS.
  await fs.promises.writeFile(
    path.join(dir, 'emulator_override.tf.json'),
    JSON.stringify({ provider: { aws: { endpoints: { sts: motoEndpoint(), eks: motoEndpoint(), iam: motoEndpoint() }, skip_metadata_api_check: true } } }, null, 2),
  );
  await fs.promises.mkdir(path.join(dir, 'gateway'));
  await fs.promises.writeFile(
    path.join(dir, 'gateway', 'outputs.tf.json'),
    JSON.stringify({ output: { cluster_name: { value: 'gw-token' }, endpoint: { value: 'https://127.0.0.1:6443' }, certificate_authority_data: { value: '' } } }),
  );
  // Two probes, run by Apply: the token expression the rendered cluster providers use, and the HOWTO's data source.
  const probe = (file: string, token: string) => ({ 'local-exec': { command: `printf %s "$TOKEN" > ${file}`, environment: { TOKEN: token } } });
  await fs.promises.writeFile(
    path.join(dir, 'probe.tf.json'),
    JSON.stringify({
      module: { gateway: { source: './gateway' } },
      data: { aws_eks_cluster_auth: { howto: { name: '${module.gateway.cluster_name}' } } },
      resource: {
        terraform_data: {
          rendered: { input: 'rendered', provisioner: [probe('rendered.token', rendered.provider.helm.kubernetes.token)] },
          howto: { input: 'howto', provisioner: [probe('howto.token', '${data.aws_eks_cluster_auth.howto.token}')] },
        },
      },
    }),
  );
  // A plugin cache that lives as long as the workspace (runTerraform's own is removed after each command).
  await fs.promises.mkdir(path.join(dir, '.plugin-cache'));
  const env = { TF_CLI_CONFIG_FILE: awsProviderMirrorConfig(dir), TF_PLUGIN_CACHE_DIR: path.join(dir, '.plugin-cache') };
  ok(await runTerraform(dir, ['init', '-input=false', '-no-color'], env), 'init');
  planStarted = new Date();
  ok(await runTerraform(dir, ['plan', '-input=false', '-no-color', '-out=tfplan'], env), 'plan');
  // An approval takes a while; two seconds are enough to tell Plan's second from Apply's.
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  applyStarted = new Date(Math.floor(Date.now() / 1000) * 1000);
  ok(await runTerraform(dir, ['apply', '-input=false', '-no-color', 'tfplan'], env), 'apply');
  tokens.rendered = await fs.promises.readFile(path.join(dir, 'rendered.token'), 'utf-8');
  tokens.howto = await fs.promises.readFile(path.join(dir, 'howto.token'), 'utf-8');
});

afterAll(async () => {
  if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
});

test('the rendered providers\' token is signed during Apply, not at Plan', () => {
  expect(signedAt(tokens.rendered).getTime()).toBeGreaterThanOrEqual(applyStarted.getTime());
});

test('the HOWTO\'s data source form fails the same test: its token was signed at Plan and saved in the plan', () => {
  expect(signedAt(tokens.howto).getTime()).toBeLessThan(applyStarted.getTime());
  expect(signedAt(tokens.howto).getTime()).toBeGreaterThanOrEqual(Math.floor(planStarted.getTime() / 1000) * 1000);
});

test('both are tokens for the module\'s cluster (its name signed in x-k8s-aws-id)', () => {
  for (const token of Object.values(tokens)) {
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf-8'));
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toContain('x-k8s-aws-id');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
  }
});
