/**
 * RenderWorkspace for real: the handler writes the workspace to S3 (moto), the files are laid out as the seed's
 * deployment folder beside the sample module, and real terraform inits, validates, plans and applies them with
 * the state in the rendered S3 backend. providers.tf.json is left out: providers cannot be downloaded offline
 * (its content is covered by the unit tests).
 */
import { PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RenderEvent, RenderResult } from '../../lambdas/render-workspace/render';
import type { GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import { CANARY, VALUES_YAML, expectNoCanary } from '../support/values-fixtures';
import { createBucket, getObjectText, listKeys, motoEndpoint, putObject, s3Client } from './support/aws-clients';
import { copyDir, runTerraform, writeMotoBackendOverride, type TerraformResult } from './support/terraform';

jest.setTimeout(120_000);

const SAMPLE_MODULE = path.join(__dirname, '..', 'fixtures', 'sample-gateway-module');
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const artifactsBucket = `artifacts-render-${suffix}`;
const stateBucket = `state-render-${suffix}`;
const deployerRoleArn = 'arn:aws:iam::123456789012:role/GatewayDeployer-TerraformRole';
const config: GatewayConfigInput = {
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
  gatewayName: 'gw-render',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: 'gw-render/values',
  module: {
    enable_nvidia_gpu: true,
    helm_chart_version: '0.16.21',
    aws_auth_roles: [{ rolearn: 'arn:aws:iam::123456789012:role/ops', username: 'cluster-admin', groups: ['system:masters'] }],
    aws_auth_users: [{ userarn: 'arn:aws:iam::123456789012:user/alice', username: 'alice', groups: ['system:masters'] }],
    additional_data_buckets: ['example-data-bucket'],
    karpenter_node_pools: {
      'gpu-pool': {
        instance_families: ['g5'],
        capacity_type: ['on-demand'],
        taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }],
      },
    },
    create_vpc: false,
    vpc_id: 'vpc-045da9dc92fb2a887',
    node_subnet_ids: ['subnet-0640da74d7ffb177f', 'subnet-0d0e19e8e7ee019a0'],
  },
  helmValues: {
    nodePoolMapping: { '4': 'example.com/expensive', '8': 'example.com/expensive' },
    // Terraform reads JSON strings as templates: this must reach Helm literally, not be interpolated.
    extra: [{ agent: { annotation: 'literal ${not.a.reference} and %{ if x }' } }],
  },
};

let handler: (event: RenderEvent) => Promise<RenderResult>;
let workdir: string;

beforeAll(async () => {
  await createBucket(artifactsBucket);
  await createBucket(stateBucket);
  await s3Client().send(new PutBucketVersioningCommand({ Bucket: stateBucket, VersioningConfiguration: { Status: 'Enabled' } }));
  Object.assign(process.env, { ARTIFACTS_BUCKET: artifactsBucket, STATE_BUCKET: stateBucket, DEPLOYER_ROLE_ARN: deployerRoleArn });
  delete process.env.STATE_KMS_KEY_ARN;
  ({ handler } = await import('../../lambdas/render-workspace/index'));
  workdir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-render-'));
});

afterAll(async () => {
  if (workdir) await fs.promises.rm(workdir, { recursive: true, force: true });
});

const run = (dir: string, args: string[]): Promise<TerraformResult> =>
  runTerraform(dir, args, { TF_VAR_helm_repository_username: CANARY.helmRepoUsername, TF_VAR_helm_repository_password: CANARY.helmRepoPassword });

function expectOk(step: string, result: TerraformResult): void {
  if (result.code !== 0) throw new Error(`terraform ${step} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

/** The seed's deployment folder, from the rendered files in S3 plus the unzipped module and values.yaml. */
async function layOut(result: RenderResult, dir: string): Promise<void> {
  for (const name of result.files.filter((f) => f !== 'providers.tf.json')) {
    await fs.promises.writeFile(path.join(dir, name), await getObjectText(artifactsBucket, `${result.workspacePrefix}${name}`));
  }
  await copyDir(SAMPLE_MODULE, path.join(dir, 'gateway'));
  await fs.promises.writeFile(path.join(dir, 'values.yaml'), VALUES_YAML, { mode: 0o600 });
  await writeMotoBackendOverride(dir, motoEndpoint());
}

test('writes the workspace files under the run prefix, with no secret in them', async () => {
  const result = await handler({ config: JSON.stringify(config), runId: 'run-files', preflight: { gateway: 'gw-render' } });
  expect(result.workspacePrefix).toBe('workspaces/gw-render/run-files/');
  expect(result.backend).toEqual({ bucket: stateBucket, key: 'gateways/gw-render/terraform.tfstate', region: 'eu-central-1' });
  const keys = await listKeys(artifactsBucket, result.workspacePrefix);
  expect(keys.sort()).toEqual(['backend.tf.json', 'gateway.tf.json', 'outputs.tf.json', 'providers.tf.json', 'variables.tf.json'].map((f) => `${result.workspacePrefix}${f}`));
  for (const key of keys) {
    expectNoCanary(await getObjectText(artifactsBucket, key));
  }
});

test('real terraform inits, validates, plans and applies the rendered workspace against the S3 backend', async () => {
  const result = await handler({ config: JSON.stringify(config), runId: 'run-apply', preflight: { gateway: 'gw-render' } });
  await layOut(result, workdir);

  expectOk('init', await run(workdir, ['init', '-no-color']));
  expectOk('validate', await run(workdir, ['validate', '-no-color']));
  expectOk('plan', await run(workdir, ['plan', '-no-color', '-out=tfplan']));
  expectOk('apply', await run(workdir, ['apply', '-no-color', 'tfplan']));

  // The state landed where backend.tf.json says, in the state bucket, not on local disk.
  expect(await listKeys(stateBucket, 'gateways/gw-render/')).toEqual(['gateways/gw-render/terraform.tfstate']);
  expect(fs.existsSync(path.join(workdir, 'terraform.tfstate'))).toBe(false);

  const show = await run(workdir, ['show', '-json']);
  expectOk('show', show);
  const resources = collectResources(JSON.parse(show.stdout).values.root_module);
  const input = (address: string) => resources.get(address)?.values.input;

  const authRoles = input('module.gateway.terraform_data.aws_auth').roles as Array<{ rolearn: string }>;
  expect(authRoles.map((r) => r.rolearn)).toEqual(['arn:aws:iam::123456789012:role/ops', deployerRoleArn]);
  expect(input('module.gateway.terraform_data.node_placement')).toMatchObject({ vpc_id: 'vpc-045da9dc92fb2a887', subnet_ids: ['subnet-0640da74d7ffb177f', 'subnet-0d0e19e8e7ee019a0'] });
  expect([...resources.keys()].filter((a) => a.startsWith('module.gateway.module.vpc.'))).toEqual([]);
  expect(JSON.parse(input('module.gateway.terraform_data.karpenter_node_pools') as string)).toEqual(config.module!.karpenter_node_pools);
  expect(input('module.gateway.terraform_data.dal_role').buckets).toEqual(['example-data-bucket']);
  expect(resources.has('module.gateway.terraform_data.nvidia_device_plugin[0]')).toBe(true);

  const release = input('module.gateway.module.gateway_agent.terraform_data.helm_release');
  expect(release.chart_version).toBe('0.16.21');
  // The chart received values.yaml first, then the generated documents, with "${" reaching it literally.
  const expectedDocs = [
    VALUES_YAML,
    'dal:\n  sources:\n    s3:\n      - example-data-bucket\n',
    'job:\n  nodePoolMapping:\n    "4": example.com/expensive\n    "8": example.com/expensive\n',
    'agent:\n  annotation: literal ${not.a.reference} and %{ if x }\n',
  ];
  expect(release.values_sha).toBe(createHash('sha256').update(expectedDocs.join('\n')).digest('hex'));

  const outputs = await run(workdir, ['output', '-json']);
  expect(JSON.parse(outputs.stdout)).toMatchObject({
    cluster_name: { value: 'gw-render' },
    dal_role_arn: { value: 'arn:aws:iam::123456789012:role/gw-render-dal' },
    endpoint: { value: expect.stringMatching(/^https:\/\//) },
  });
});

test('a customized gateway.tf from S3 replaces the rendered one', async () => {
  const custom = 'module "gateway" {\n  source = "./gateway"\n  name   = "gw-custom"\n  helm_repository_username = var.helm_repository_username\n  helm_repository_password = var.helm_repository_password\n}\n';
  await putObject(artifactsBucket, 'custom/gateway.tf', custom);
  const result = await handler({
    config: JSON.stringify({ ...config, customGatewayTfKey: 'custom/gateway.tf' }),
    runId: 'run-custom',
    preflight: { gateway: 'gw-render', customGatewayTf: { key: 'custom/gateway.tf' } },
  });
  expect(result.files).toContain('gateway.tf');
  expect(result.files).not.toContain('gateway.tf.json');
  expect(await getObjectText(artifactsBucket, `${result.workspacePrefix}gateway.tf`)).toBe(custom);

  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-render-custom-'));
  try {
    await layOut(result, dir);
    expectOk('init', await run(dir, ['init', '-no-color', '-backend=false']));
    expectOk('validate', await run(dir, ['validate', '-no-color']));
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
});

test('a bad run id is refused before anything is written', async () => {
  const before = await listKeys(artifactsBucket);
  await expect(handler({ config: JSON.stringify(config), runId: '../escape', preflight: { gateway: 'gw-render' } })).rejects.toThrow(/run id/);
  expect(await listKeys(artifactsBucket)).toEqual(before);
});

interface ShownResource {
  address: string;
  values: { input: any };
}

function collectResources(module: { resources?: ShownResource[]; child_modules?: unknown[] }, out = new Map<string, ShownResource>()): Map<string, ShownResource> {
  for (const r of module.resources ?? []) out.set(r.address, r);
  for (const child of (module.child_modules ?? []) as Array<typeof module>) collectResources(child, out);
  return out;
}
