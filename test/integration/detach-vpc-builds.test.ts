/**
 * The seed's FAQ "Can I manage the AWS VPC setup?" as builds, for real: the sample module is applied (its
 * module.vpc holds terraform_data resources), then `list-vpc` runs in the Plan buildspec and `detach-vpc` in the
 * Apply buildspec, both chosen with TERRAFORM_COMMAND as the state machine overrides it, with real terraform and
 * moto for S3 (the state backend too) and Secrets Manager. As in terraform-builds.test.ts, providers.tf.json is
 * left out of the workspace.
 */
import { GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAnalyze } from '../../lambdas/analyze-plan/analyze';
import { parseGatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import { renderWorkspace, resolveBackend } from '../../lambdas/shared/domain/workspace';
import { stepSourceInto } from '../support/build-cache';
import { runBuildspec, type BuildspecRunResult } from '../support/buildspec-runner';
import { ALL_CANARIES, VALUES_YAML } from '../support/values-fixtures';
import { zipDirectory } from '../support/zip-fixtures';
import { createBucket, createSecret, getObjectText, listKeys, putObject, s3Client } from './support/aws-clients';

jest.setTimeout(240_000);

const ROOT = path.join(__dirname, '..', '..');
const GATEWAY = 'gw-detach';
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const artifacts = `artifacts-detach-${suffix}`;
const stateBucket = `state-detach-${suffix}`;
const secretName = `${GATEWAY}/${suffix}/values`;
const STATE_KEY = `gateways/${GATEWAY}/terraform.tfstate`;
const BUNDLE_KEY = 'releases/gateway-1.0.0.zip';
const VPC_ADDRESS = 'module.gateway.module.vpc.terraform_data.vpc[0]';

let tmp: string;
let sourceDir: string;
let secretArn: string;
let bundleSha: string;
const logs: string[] = [];

const baseConfig: GatewayConfigInput = {
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
  gatewayName: GATEWAY,
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: secretName,
  backend: { key: STATE_KEY },
};

interface StateFile {
  serial: number;
  lineage: string;
  resources: Array<{ module?: string; mode: string; type: string; name: string; instances: unknown[] }>;
}

const readState = async (): Promise<StateFile> => JSON.parse(await getObjectText(stateBucket, STATE_KEY)) as StateFile;
const addressesOf = (state: StateFile): string[] =>
  state.resources.map((r) => `${r.module ? `${r.module}.` : ''}${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}`);

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-detach-'));
  sourceDir = path.join(tmp, 'source');
  stepSourceInto(sourceDir);
  await createBucket(artifacts);
  await createBucket(stateBucket);
  for (const bucket of [artifacts, stateBucket]) {
    await s3Client().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  secretArn = await createSecret(secretName, VALUES_YAML);
  const zip = await zipDirectory(path.join(ROOT, 'test', 'fixtures', 'sample-gateway-module'));
  bundleSha = createHash('sha256').update(zip).digest('hex');
  await s3Client().send(new PutObjectCommand({ Bucket: artifacts, Key: BUNDLE_KEY, Body: zip }));
});

afterAll(async () => {
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

async function renderRun(runId: string, overrides: Partial<GatewayConfigInput> = {}): Promise<void> {
  const config = parseGatewayConfig({ ...baseConfig, ...overrides });
  const files = renderWorkspace({ config, backend: resolveBackend(config, stateBucket), deployerRoleArn: 'arn:aws:iam::123456789012:role/deployer' });
  for (const file of files.filter((f) => f.name !== 'providers.tf.json')) await putObject(artifacts, `workspaces/${GATEWAY}/${runId}/${file.name}`, file.content);
}

async function build(spec: 'plan' | 'apply', runId: string, extra: Record<string, string> = {}): Promise<BuildspecRunResult> {
  const runDir = path.join(tmp, `${spec}-${runId}-${logs.length}`);
  const result = await runBuildspec({
    buildspecPath: path.join(ROOT, 'buildspecs', `${spec}.yml`),
    sourceDir,
    // As the CodeBuild projects of terraform-runner.ts: the state bucket is a project variable.
    projectEnv: { TF_VERSION: '1.11.4', ARTIFACTS_BUCKET: artifacts, STATE_BUCKET: stateBucket },
    overrides: {
      GATEWAY,
      RUN_ID: runId,
      WORKSPACE_PREFIX: `workspaces/${GATEWAY}/${runId}/`,
      BUNDLE_KEY,
      BUNDLE_SHA256: bundleSha,
      VALUES_SECRET_ARN: secretArn,
      WORK_DIR: path.join(runDir, 'workspace'),
      STEP_EXPORTS: path.join(runDir, 'exports.env'),
      TF_PLUGIN_CACHE_DIR: path.join(tmp, 'plugin-cache'),
      ...extra,
    },
    timeoutMs: 120_000,
  });
  logs.push(result.log);
  return result;
}

function expectSucceeded(result: BuildspecRunResult): void {
  if (result.status !== 'SUCCEEDED') throw new Error(`build failed in ${result.failedPhase}:\n${result.log}`);
}

function expectNoSecretIn(text: string, where: string): void {
  for (const canary of ALL_CANARIES) {
    if (text.includes(canary)) throw new Error(`${where} contains the secret ${canary}`);
  }
}

const listVpc = (runId: string) => build('plan', runId, { TERRAFORM_COMMAND: 'list-vpc' });
/** The list an operator approved: its key, and the digest and S3 version the state machine passes DetachVpc. */
interface ApprovedList {
  readonly key: string;
  readonly sha256: string;
  readonly versionId: string;
}
const approvedListOf = (exported: Record<string, string>): ApprovedList => ({ key: exported.DETACH_REPORT_KEY, sha256: exported.PLAN_SHA256, versionId: exported.PLAN_VERSION_ID });
/** A list as it is stored now, taken as approved (for lists the test writes itself). */
async function approvedAsStored(key: string): Promise<ApprovedList> {
  const out = await s3Client().send(new GetObjectCommand({ Bucket: artifacts, Key: key }));
  const body = Buffer.from(await out.Body!.transformToByteArray());
  return { key, sha256: createHash('sha256').update(body).digest('hex'), versionId: out.VersionId ?? 'unversioned' };
}
const detachVpc = (runId: string, list: ApprovedList) =>
  build('apply', runId, { TERRAFORM_COMMAND: 'detach-vpc', DETACH_REPORT_KEY: list.key, PLAN_SHA256: list.sha256, PLAN_VERSION_ID: list.versionId });

let stateBeforeDetach: StateFile;
let approvedList: ApprovedList;

describe('detach-vpc: list, approve, detach', () => {
  test('the sample module is installed with its own VPC (plan and apply with the default TERRAFORM_COMMAND)', async () => {
    await renderRun('install');
    const plan = await build('plan', 'install');
    expectSucceeded(plan);
    expect(plan.log).toContain('terraform-step.js" "$TERRAFORM_COMMAND"');
    expectSucceeded(await build('apply', 'install', { PLAN_PREFIX: plan.exported.PLAN_PREFIX, PLAN_SHA256: plan.exported.PLAN_SHA256, PLAN_VERSION_ID: plan.exported.PLAN_VERSION_ID }));
    expect(addressesOf(await readState())).toContain('module.gateway.module.vpc.terraform_data.vpc');
  });

  test('list-vpc (Plan project) lists only the module.vpc addresses and changes nothing', async () => {
    const before = await readState();
    await renderRun('detach');
    const list = await listVpc('detach');
    expectSucceeded(list);
    expect(list.exported).toMatchObject({ STEP_STATUS: 'succeeded', DETACH_REPORT_KEY: `reports/${GATEWAY}/detach/detach-vpc.json`, DETACH_COUNT: '1' });
    expect(list.exported).not.toHaveProperty('PLAN_JSON_KEY');
    // Approved, then applied by the detach below: afterwards a stale list.
    approvedList = approvedListOf(list.exported);
    expect(approvedList).toEqual(await approvedAsStored(list.exported.DETACH_REPORT_KEY));
    const report = JSON.parse(await getObjectText(artifacts, list.exported.DETACH_REPORT_KEY));
    expect(report).toMatchObject({ operation: 'detach-vpc', status: 'listed', gateway: GATEWAY, runId: 'detach', stateBucket, stateKey: STATE_KEY, addresses: [VPC_ADDRESS] });
    expect(list.log).toContain(`1 module.vpc address(es) in s3://${stateBucket}/${STATE_KEY}:`);
    expect(list.log).toContain(`  ${VPC_ADDRESS}`);
    expect(list.log).toContain('$ terraform state list');
    // The state holds other resources, none of them listed.
    expect(addressesOf(before).length).toBeGreaterThan(5);
    expect(await readState()).toEqual(before);
    expect(await listKeys(artifacts, `plans/${GATEWAY}/detach/`)).toEqual([]);

    // What the approver is shown.
    const analysis = await runAnalyze(
      {
        config: JSON.stringify(baseConfig),
        preflight: { trigger: 'console', change: 'same', operation: 'detach-vpc' },
        plan: { exported: Object.entries(list.exported).map(([Name, Value]) => ({ Name, Value })) },
      },
      async (key) => JSON.parse(await getObjectText(artifacts, key)),
    );
    expect(analysis).toMatchObject({
      decision: 'ask',
      line: 'Detach from Terraform state: 1 module.vpc resource (nothing is destroyed in AWS)',
      changes: [{ address: VPC_ADDRESS, action: 'forget' }],
      planJsonKey: list.exported.DETACH_REPORT_KEY,
    });
  });

  test('detach-vpc (Apply project) backs the state up in the state bucket, then removes exactly the approved addresses', async () => {
    stateBeforeDetach = await readState();
    const detach = await detachVpc('detach', approvedList);
    expectSucceeded(detach);
    const backupKey = `backups/${GATEWAY}/detach/terraform.tfstate`;
    expect(detach.exported).toMatchObject({
      STEP_STATUS: 'succeeded',
      DETACH_REPORT_KEY: `reports/${GATEWAY}/detach/detach-vpc-result.json`,
      DETACH_COUNT: '1',
      STATE_BACKUP_KEY: backupKey,
    });
    expect(detach.log).toContain(`$ terraform state rm ${VPC_ADDRESS}`);

    // The state: module.vpc gone, everything else exactly as it was.
    const after = await readState();
    expect(addressesOf(after)).toEqual(addressesOf(stateBeforeDetach).filter((a) => !a.startsWith('module.gateway.module.vpc.')));
    expect(after.resources).toEqual(stateBeforeDetach.resources.filter((r) => r.module !== 'module.gateway.module.vpc'));
    expect(after.lineage).toBe(stateBeforeDetach.lineage);
    expect(after.serial).toBeGreaterThan(stateBeforeDetach.serial);

    // The backup is the state before the removal, in the state bucket and nowhere else.
    const backup = JSON.parse(await getObjectText(stateBucket, backupKey)) as StateFile;
    // (`terraform state pull` may order check_results differently; the rest is the stored state as it was.)
    expect({ serial: backup.serial, lineage: backup.lineage, resources: backup.resources }).toEqual({
      serial: stateBeforeDetach.serial,
      lineage: stateBeforeDetach.lineage,
      resources: stateBeforeDetach.resources,
    });
    expect((await listKeys(artifacts)).filter((k) => k.includes('tfstate'))).toEqual([]);

    const report = JSON.parse(await getObjectText(artifacts, detach.exported.DETACH_REPORT_KEY));
    expect(report).toMatchObject({
      operation: 'detach-vpc',
      status: 'detached',
      gateway: GATEWAY,
      runId: 'detach',
      stateBucket,
      stateKey: STATE_KEY,
      removed: [VPC_ADDRESS],
      backup: { bucket: stateBucket, key: backupKey },
      remainingCount: addressesOf(after).length,
    });
    const versioned = await s3Client().send(new GetObjectCommand({ Bucket: stateBucket, Key: backupKey, VersionId: report.backup.versionId }));
    expect(versioned.VersionId).toBe(report.backup.versionId);

    // The state is never printed (it can hold the values in clear): not even its lineage is in the log.
    expect(detach.log).toContain('$ terraform state pull');
    expect(detach.log).not.toContain(stateBeforeDetach.lineage);
    expectNoSecretIn(detach.log, 'the detach-vpc build log');
  });

  test('a list approved before the state changed is refused: state-changed, nothing removed, no backup', async () => {
    // The list the detach above applied, approved again: its addresses are no longer in the state.
    await renderRun('stale');
    const before = await readState();
    const stale = await detachVpc('stale', approvedList);
    expect(stale.status).toBe('FAILED');
    expect(stale.exported).toMatchObject({ STEP_STATUS: 'failed', FAILURE_CLASS: 'state-changed', FAILURE_REPORT_KEY: `reports/${GATEWAY}/stale/detach-vpc-failure.json` });
    expect(stale.exported).not.toHaveProperty('STATE_BACKUP_KEY');
    const failure = JSON.parse(await getObjectText(artifacts, stale.exported.FAILURE_REPORT_KEY));
    expect(failure).toMatchObject({ step: 'detach-vpc', failure: 'state-changed', added: [], missing: [VPC_ADDRESS] });
    expect(stale.log).toContain('detach-vpc refused: the module.vpc resources in the Terraform state are no longer the approved ones');
    expect(stale.log).not.toContain('$ terraform state rm');
    expect(await readState()).toEqual(before);
    expect(await listKeys(stateBucket, `backups/${GATEWAY}/stale/`)).toEqual([]);
  });

  test('a list that was edited to name a resource outside module.vpc is refused before terraform state rm', async () => {
    const key = `reports/${GATEWAY}/edited/detach-vpc.json`;
    await putObject(
      artifacts,
      key,
      JSON.stringify({ operation: 'detach-vpc', status: 'listed', gateway: GATEWAY, runId: 'edited', stateBucket, stateKey: STATE_KEY, addresses: ['module.gateway.terraform_data.cluster'] }),
    );
    await renderRun('edited');
    const before = await readState();
    const edited = await detachVpc('edited', await approvedAsStored(key));
    expect(edited.status).toBe('FAILED');
    expect(edited.exported).toMatchObject({ STEP_STATUS: 'failed', FAILURE_CLASS: 'setup' });
    expect(edited.exported.FAILURE_MESSAGE).toContain('holds addresses outside module.vpc: "module.gateway.terraform_data.cluster"');
    expect(await readState()).toEqual(before);
  });

  // That list-vpc then finds nothing is rehearsed end to end (rehearsal-operations.test.ts, detach-vpc again).
  test('after the detach, the switch to create_vpc = false plans no destroy', async () => {
    // The FAQ's point: the VPC is the operator's now; with create_vpc = false Terraform leaves it alone.
    await renderRun('switch', { module: { create_vpc: false, vpc_id: 'vpc-045da9dc92fb2a887', node_subnet_ids: ['subnet-0640da74d7ffb177f', 'subnet-0d0e19e8e7ee019a0'] } });
    const plan = await build('plan', 'switch');
    expectSucceeded(plan);
    expect(plan.exported.PLAN_DESTROY).toBe('0');
  });

  test('no build log and no object in the artifacts bucket (but the bundle) holds a secret', async () => {
    logs.forEach((log, i) => expectNoSecretIn(log, `build log ${i}`));
    for (const key of await listKeys(artifacts)) {
      if (key.endsWith('/tfplan') || key.startsWith('releases/')) continue;
      expectNoSecretIn(await getObjectText(artifacts, key), `s3://${artifacts}/${key}`);
    }
  });
});
