/**
 * The Plan and Apply builds for real: the same buildspec files CodeBuild gets, run by the local buildspec runner
 * with bash, the bundled terraform-step helper, real terraform, and moto standing in for S3 and Secrets
 * Manager (terraform's S3 backend follows AWS_ENDPOINT_URL there too). The bundle is the sample module zipped;
 * providers.tf.json is left out of the workspace since providers cannot be downloaded offline.
 */
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
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
import { createBucket, createSecret, createTable, dynamoDbClient, getObjectText, listKeys, putObject, s3Client } from './support/aws-clients';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const artifacts = `artifacts-builds-${suffix}`;
const stateBucket = `state-builds-${suffix}`;
const secretName = `gw-builds/${suffix}/values`;
const STATE_KEY = 'gateways/gw-builds/terraform.tfstate';
const BUNDLE_KEY = 'releases/gateway-1.0.0.zip';

let tmp: string;
let sourceDir: string;
let secretArn: string;
let bundleSha: string;
let bundleVersionId: string | undefined;
const logs: string[] = [];
const exportedByBuild: Array<Record<string, string>> = [];
/** Planned in the upgrade test before its apply; applied, and refused, in the stale-plan test. */
let stalePlan: BuildspecRunResult | undefined;

const baseConfig: GatewayConfigInput = {
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
  gatewayName: 'gw-builds',
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: secretName,
  backend: { key: STATE_KEY },
};

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-builds-'));
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
  const put = await s3Client().send(new PutObjectCommand({ Bucket: artifacts, Key: BUNDLE_KEY, Body: zip }));
  bundleVersionId = put.VersionId;
});

afterAll(async () => {
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

/** RenderWorkspace's files for this run, without providers.tf.json. */
async function renderRun(runId: string, overrides: Partial<GatewayConfigInput> = {}): Promise<string> {
  const config = parseGatewayConfig({ ...baseConfig, ...overrides });
  const prefix = `workspaces/gw-builds/${runId}/`;
  const files = renderWorkspace({ config, backend: resolveBackend(config, stateBucket), deployerRoleArn: 'arn:aws:iam::123456789012:role/deployer' });
  for (const file of files.filter((f) => f.name !== 'providers.tf.json')) await putObject(artifacts, `${prefix}${file.name}`, file.content);
  return prefix;
}

async function build(spec: 'plan' | 'apply', runId: string, extra: Record<string, string> = {}): Promise<BuildspecRunResult> {
  const runDir = path.join(tmp, `${spec}-${runId}`);
  const result = await runBuildspec({
    buildspecPath: path.join(ROOT, 'buildspecs', `${spec}.yml`),
    sourceDir,
    projectEnv: { TF_VERSION: '1.11.4', ARTIFACTS_BUCKET: artifacts },
    overrides: {
      GATEWAY: 'gw-builds',
      RUN_ID: runId,
      WORKSPACE_PREFIX: `workspaces/gw-builds/${runId}/`,
      BUNDLE_KEY,
      ...(bundleVersionId ? { BUNDLE_VERSION_ID: bundleVersionId } : {}),
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
  exportedByBuild.push(result.exported);
  return result;
}

function expectSucceeded(result: BuildspecRunResult): void {
  if (result.status !== 'SUCCEEDED') throw new Error(`build failed in ${result.failedPhase}:\n${result.log}`);
}

const analyze = async (plan: BuildspecRunResult, preflight = { trigger: 'console', change: 'upgrade' as const }, config = baseConfig) =>
  runAnalyze(
    { config: JSON.stringify(config), preflight, plan: { exported: Object.entries(plan.exported).map(([Name, Value]) => ({ Name, Value })) } },
    async (key) => JSON.parse(await getObjectText(artifacts, key)),
  );

async function s3Object(bucket: string, key: string): Promise<{ body: Buffer; versionId?: string }> {
  const client = s3Client();
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { body: Buffer.from(await out.Body!.transformToByteArray()), ...(out.VersionId ? { versionId: out.VersionId } : {}) };
  } finally {
    client.destroy();
  }
}

/** What the state machine passes Apply after an approval: where the plan is, its digest and S3 version. */
const approvedPlan = (plan: BuildspecRunResult) => ({ PLAN_PREFIX: plan.exported.PLAN_PREFIX, PLAN_SHA256: plan.exported.PLAN_SHA256, PLAN_VERSION_ID: plan.exported.PLAN_VERSION_ID });

function expectNoSecretIn(text: string, where: string): void {
  for (const canary of ALL_CANARIES) {
    if (text.includes(canary)) throw new Error(`${where} contains the secret ${canary}`);
  }
}

const INSTALL: Partial<GatewayConfigInput> = { module: { additional_data_buckets: ['example-data-bucket'] } };

describe('install and upgrade', () => {
  test('first install: plan exports the summary, the stored plan is redacted, apply applies it and exports the outputs', async () => {
    await renderRun('install', INSTALL);
    const plan = await build('plan', 'install');
    expectSucceeded(plan);
    expect(plan.exported).toMatchObject({ STEP_STATUS: 'succeeded', PLAN_HAS_CHANGES: 'true', PLAN_CHANGE: '0', PLAN_DESTROY: '0' });
    // What an approval binds: the stored binary's sha256 and its S3 version.
    const stored = await s3Object(artifacts, `${plan.exported.PLAN_PREFIX}tfplan`);
    expect(plan.exported.PLAN_SHA256).toBe(createHash('sha256').update(stored.body).digest('hex'));
    expect(plan.exported.PLAN_VERSION_ID).toBe(stored.versionId);
    expect(Number(plan.exported.PLAN_ADD)).toBeGreaterThan(3);
    expect(plan.log).toContain(`Plan: ${plan.exported.PLAN_ADD} to add, 0 to change, 0 to destroy.`);
    expect(await listKeys(artifacts, 'plans/gw-builds/install/')).toEqual(
      ['outputs.json', 'plan.json', 'plan.txt', 'terraform.lock.hcl', 'tfplan'].map((f) => `plans/gw-builds/install/${f}`),
    );

    const analysis = await analyze(plan, { trigger: 'console', change: 'install' as never });
    expect(analysis).toMatchObject({ hasChanges: true, destroy: 0, decision: 'ask', risk: { level: 'low' } });
    expect(analysis.changes.map((c) => c.address)).toContain('module.gateway.terraform_data.cluster');

    const apply = await build('apply', 'install', { ...approvedPlan(plan), DATA_BUCKETS: 'example-data-bucket' });
    expectSucceeded(apply);
    expect(apply.exported).toMatchObject({ STEP_STATUS: 'succeeded', CLUSTER_NAME: 'gw-builds', DAL_ROLE_ARN: 'arn:aws:iam::123456789012:role/gw-builds-dal' });
    expect(apply.exported.CLUSTER_ENDPOINT).toMatch(/^https:\/\//);
    const report = JSON.parse(await getObjectText(artifacts, apply.exported.APPLY_REPORT_KEY));
    expect(report).toMatchObject({ status: 'applied', outputs: { cluster_name: 'gw-builds' } });
    // The seed's bucket policy for the external data bucket, with the real DAL role as principal.
    expect(report.dataBucketPolicies['example-data-bucket'].Statement[0]).toMatchObject({
      Principal: { AWS: ['arn:aws:iam::123456789012:role/gw-builds-dal'] },
      Action: ['s3:ListBucket', 's3:GetObject'],
      Resource: ['arn:aws:s3:::example-data-bucket', 'arn:aws:s3:::example-data-bucket/*'],
    });
    expect(await listKeys(stateBucket, 'gateways/gw-builds/')).toEqual([STATE_KEY]);
  });

  test('an upgrade that changes the chart version: an in-place update, low risk, applied', async () => {
    // Another change planned before this upgrade is applied: the stale plan of the test below.
    await renderRun('stale', { module: { helm_chart_version: '0.16.22' } });
    stalePlan = await build('plan', 'stale');
    expectSucceeded(stalePlan);

    await renderRun('upgrade', { module: { helm_chart_version: '0.16.21' } });
    const plan = await build('plan', 'upgrade');
    expectSucceeded(plan);
    expect(plan.exported).toMatchObject({ PLAN_HAS_CHANGES: 'true', PLAN_ADD: '0', PLAN_DESTROY: '0' });
    expect(Number(plan.exported.PLAN_CHANGE)).toBeGreaterThan(0);
    const analysis = await analyze(plan);
    expect(analysis.risk.level).toBe('low');
    expect(analysis.changes).toContainEqual({ address: 'module.gateway.module.gateway_agent.terraform_data.helm_release', action: 'update' });
    expectSucceeded(await build('apply', 'upgrade', approvedPlan(plan)));
  });
});

describe('risk and stale plans', () => {
  test('renaming the gateway replaces the cluster: high risk, never auto-approved', async () => {
    await renderRun('rename', { gatewayName: 'gw-renamed', module: { helm_chart_version: '0.16.21' }, approval: { ...baseConfig.approval, autoApproveS3Upgrades: true } });
    const plan = await build('plan', 'rename');
    expectSucceeded(plan);
    const analysis = await analyze(plan, { trigger: 's3', change: 'upgrade' }, { ...baseConfig, approval: { ...baseConfig.approval, autoApproveS3Upgrades: true } });
    expect(analysis.replaced).toContain('module.gateway.terraform_data.cluster');
    expect(analysis.risk.level).toBe('high');
    expect(analysis.risk.reasons).toContain('replaces the EKS cluster: module.gateway.terraform_data.cluster');
    expect(analysis.decision).toBe('ask');
  });

  test('a plan made before another apply is stale: apply refuses it and says so', async () => {
    // Planned in the test above before its upgrade was applied.
    const apply = await build('apply', 'stale', approvedPlan(stalePlan!));
    expect(apply.status).toBe('FAILED');
    expect(apply.exported).toMatchObject({ STEP_STATUS: 'failed', FAILURE_CLASS: 'stale-plan' });
    const failure = JSON.parse(await getObjectText(artifacts, apply.exported.FAILURE_REPORT_KEY));
    expect(failure).toMatchObject({ step: 'apply', failure: 'stale-plan' });
  });
});

// A state lock held by someone else is rehearsed end to end (the Plan build, its failure class and advice, both
// locks afterwards) in rehearsal-faults.test.ts, and the seed's Helm name-reuse error (classified, then remediated)
// in rehearsal-name-reuse.test.ts; a plan without changes in rehearsal.test.ts (NothingToApply) and
// rehearsal-operations.test.ts (a quiet drift check).
describe('known failures', () => {
  test('a bundle that changed since Preflight is refused before terraform runs', async () => {
    await renderRun('swapped');
    const plan = await build('plan', 'swapped', { BUNDLE_SHA256: 'ab'.repeat(32), BUNDLE_VERSION_ID: '' });
    expect(plan.status).toBe('FAILED');
    expect(plan.exported).toMatchObject({ STEP_STATUS: 'failed', FAILURE_CLASS: 'setup' });
    expect(plan.exported.FAILURE_MESSAGE).toContain('changed since Preflight checked it');
    expect(plan.log).not.toContain('$ terraform');
  });
});

describe('the deployment lock', () => {
  const table = `deployments-builds-${suffix}`;
  const me = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-builds:redriven';
  const lockItem = (executionArn: string) => ({
    TableName: table,
    Item: { pk: { S: 'GATEWAY#gw-builds' }, sk: { S: 'LOCK' }, executionArn: { S: executionArn }, acquiredAt: { S: '2026-12-05T07:00:00.000Z' } },
  });
  beforeAll(async () => {
    await createTable(table);
  });

  // A redriven execution resumes at the step that failed, past AcquireLock: the build is what must refuse.
  test('a build whose execution does not hold the lock (a newer run does) refuses before terraform runs', async () => {
    await dynamoDbClient().send(new PutItemCommand(lockItem('arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-builds:newer')));
    await renderRun('redriven');
    const plan = await build('plan', 'redriven', { DEPLOYMENTS_TABLE: table, EXECUTION_ARN: me });
    expect(plan.status).toBe('FAILED');
    expect(plan.exported).toMatchObject({ STEP_STATUS: 'failed', FAILURE_CLASS: 'setup' });
    expect(plan.exported.FAILURE_MESSAGE).toContain("this execution does not hold the gateway's deployment lock; another execution holds it: arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-builds:newer");
    expect(plan.log).not.toContain('$ terraform');
  });

  test('nobody holds it (released when the run ended): refused as well', async () => {
    await dynamoDbClient().send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: 'GATEWAY#gw-builds' }, sk: { S: 'LOCK' } } }));
    const plan = await build('plan', 'redriven', { DEPLOYMENTS_TABLE: table, EXECUTION_ARN: me });
    expect(plan.exported.FAILURE_MESSAGE).toContain('nobody holds it');
    expect(plan.log).not.toContain('$ terraform');
  });

  test('the execution that holds it plans as usual', async () => {
    await dynamoDbClient().send(new PutItemCommand(lockItem(me)));
    const plan = await build('plan', 'redriven', { DEPLOYMENTS_TABLE: table, EXECUTION_ARN: me });
    expectSucceeded(plan);
  });
});

describe('no secret leaves the build', () => {
  test('no build log, exported variable or stored object except the state and the plan binary holds a secret', async () => {
    expect(logs.length).toBeGreaterThan(5);
    logs.forEach((log, i) => expectNoSecretIn(log, `build log ${i}`));
    exportedByBuild.forEach((vars, i) => expectNoSecretIn(JSON.stringify(vars), `exported variables of build ${i}`));
    for (const key of await listKeys(artifacts)) {
      if (key.endsWith('/tfplan') || key.startsWith('releases/')) continue;
      expectNoSecretIn(await getObjectText(artifacts, key), `s3://${artifacts}/${key}`);
    }
    // Sanity: the secret really was in play (the state holds the values that Terraform passed to the module).
    expect(ALL_CANARIES.some((c) => VALUES_YAML.includes(c))).toBe(true);
  });
});
