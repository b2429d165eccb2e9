/**
 * The rendered providers.tf.json, run: a first install rehearsed with the real hashicorp/aws provider (from the
 * machine's Terraform filesystem mirror) against the emulator, and a sample module that reads the cluster and the
 * caller identity and makes the DAL role through it (test/fixtures/sample-gateway-module-aws). The install meets
 * the HOWTO's "cannot re-use a name" on its first Apply, so the remediation (release inspection, uninstall, a second
 * Plan and Apply) and Verify run with the provider too; then detach-vpc lists and forgets the VPC addresses with it.
 * What the rehearsal leaves out, and says so: the helm, kubectl and kubernetes providers, which cannot be had
 * offline (RehearsalOptions.realAwsProvider). Two runs only: every Terraform command loads the ~700 MB provider.
 */
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { rehearse, sampleBundleFile, type RehearsalReport } from '../rehearsal/harness';
import { motoEndpoint, s3Client } from './support/aws-clients';

jest.setTimeout(240_000);

const prefix = `realaws-${process.pid}-${Date.now().toString(36)}`;
/** Its own gateway name: the IAM role it makes is account-wide in the emulator, which other runs may share. */
const GATEWAY = `gw-${Date.now().toString(36)}`;
let workDir: string;
let report: RehearsalReport;
const printed: string[] = [];

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-realaws-'));
  report = await rehearse({
    motoEndpoint: motoEndpoint(),
    workDir,
    prefix,
    bundlePath: await sampleBundleFile(workDir, '1.0.0', { withAwsProvider: true }),
    realAwsProvider: true,
    preexistingRelease: 'unmanaged',
    config: { ...EXAMPLE_CONFIG, gatewayName: GATEWAY },
    print: (line) => printed.push(line),
  });
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

const text = async (key: string) => (await (await s3Client().send(new GetObjectCommand({ Bucket: report.resources.artifactsBucket, Key: key }))).Body!.transformToString());

test('the install succeeds with the rendered providers and the real AWS provider, through the name-reuse remediation', () => {
  expect(report.status).toBe('SUCCEEDED');
  expect(printed.join('\n')).toContain('left out, not installable offline: helm, kubectl, kubernetes providers');
  const ran = report.states.filter((s) => s.outcome !== 'retried').map((s) => `${s.name}:${s.outcome}`);
  for (const step of ['Apply:failed', 'InspectRelease:succeeded', 'UninstallRelease:succeeded', 'RePlanAfterUninstall:succeeded', 'Apply:succeeded', 'Verify:succeeded']) {
    expect(ran).toContain(step);
  }
});

test('the re-plan after the uninstall refreshed through the provider what the first Apply made, and read the cluster', async () => {
  // The run's plan.txt is the last Plan's: after the first Apply made the AWS resources and failed at the release.
  const plan = await text(`plans/${GATEWAY}/${report.executionName}/plan.txt`);
  expect(plan).toContain('module.gateway.aws_iam_role.dal_aws: Refreshing state...');
  expect(plan).toContain('module.gateway.aws_iam_role_policy.dal_aws: Refreshing state...');
  expect(plan).toMatch(new RegExp(`module\\.gateway\\.data\\.aws_eks_cluster\\.this: Read complete after \\d+s \\[id=${GATEWAY}\\]`));
});

test('Apply made the DAL role in the emulator; the state records what the provider read', async () => {
  const iam = new IAMClient({});
  const role = await iam.send(new GetRoleCommand({ RoleName: `${GATEWAY}-dal-aws` }));
  iam.destroy();
  expect(role.Role?.Arn).toBe(`arn:aws:iam::123456789012:role/${GATEWAY}-dal-aws`);
  const state = JSON.parse(
    await (await s3Client().send(new GetObjectCommand({ Bucket: report.resources.stateBucket, Key: `gateways/${GATEWAY}/terraform.tfstate` }))).Body!.transformToString(),
  ) as { resources: Array<{ mode: string; type: string; instances: Array<{ attributes: Record<string, unknown> }> }> };
  const find = (mode: string, type: string) => state.resources.find((r) => r.mode === mode && r.type === type)?.instances[0]?.attributes;
  expect(find('data', 'aws_caller_identity')?.account_id).toBe('123456789012');
  expect(find('data', 'aws_eks_cluster')?.name).toBe(GATEWAY);
  expect(find('managed', 'aws_iam_role')?.arn).toBe(`arn:aws:iam::123456789012:role/${GATEWAY}-dal-aws`);
});

test('the workspace the builds ran holds the rendered providers less the offline ones, and the emulator override beside them', async () => {
  const providers = JSON.parse(await text(`workspaces/${GATEWAY}/${report.executionName}/providers.tf.json`));
  expect(Object.keys(providers.terraform.required_providers)).toEqual(['aws']);
  expect(providers.ephemeral).toEqual({ aws_eks_cluster_auth: { default: { name: '${module.gateway.cluster_name}' } } });
  const override = JSON.parse(await text(`workspaces/${GATEWAY}/${report.executionName}/emulator_override.tf.json`));
  expect(override.provider.aws.endpoints.sts).toBe(motoEndpoint());
});

test('detach-vpc with the real AWS provider: the module.vpc addresses listed, approved and forgotten, the rest kept', async () => {
  const detach = await rehearse({
    motoEndpoint: motoEndpoint(),
    workDir: path.join(workDir, 'detach'),
    prefix,
    bundlePath: path.join(workDir, 'gateway-1.0.0.zip'),
    realAwsProvider: true,
    config: { ...EXAMPLE_CONFIG, gatewayName: GATEWAY },
    input: { operation: 'detach-vpc', reason: 'the network team takes the VPC over' },
  });
  expect(detach.status).toBe('SUCCEEDED');
  expect(detach.states.map((s) => s.name)).toEqual(expect.arrayContaining(['ListVpcState', 'DetachVpc', 'NotifyDetached']));
  const state = JSON.parse(
    await (await s3Client().send(new GetObjectCommand({ Bucket: report.resources.stateBucket, Key: `gateways/${GATEWAY}/terraform.tfstate` }))).Body!.transformToString(),
  ) as { resources: Array<{ module?: string; type: string }> };
  expect(state.resources.filter((r) => r.module?.includes('module.vpc'))).toEqual([]);
  expect(state.resources.some((r) => r.type === 'aws_iam_role')).toBe(true);
});
