/**
 * Apply runs only the provider packages the approved plan was made with. The Plan build makes a plan with the real
 * hashicorp/aws provider (from the machine's filesystem mirror; the rendered providers.tf.json less the providers that
 * cannot be had offline, pointed at moto by an override file); then Apply builds meet a swapped provider, as a
 * changed registry answer, mirror or build cache would hand it over. The swapped package is a script that leaves a
 * mark when it runs: it must never run. The builds are the real buildspecs, the bundled helper and real Terraform.
 *
 * Attacks, each of which gets through without the control:
 * - another package under the pinned version in the mirror (without the plan's lock file, init installs it);
 * - the same, with the reviewers' copy of the lock file in S3 rewritten to that package's checksum (what someone who
 *   can write plans/ could do; Apply trusts only the lock file inside the approved plan binary);
 * - the package planted in the plugin cache that Plan and Apply share (Terraform skips a cache entry whose checksum is
 *   not in the lock file, installs the real one, and Apply succeeds).
 */
import { PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseGatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import { PLAN_READER_ACCESS_FILE, renderWorkspace, resolveBackend } from '../../lambdas/shared/domain/workspace';
import { stepSourceInto } from '../support/build-cache';
import { runBuildspec, type BuildspecRunResult } from '../support/buildspec-runner';
import { awsProviderMirrorConfig, emulatorOverride, withoutOfflineProviders } from '../support/terraform-mirror';
import { VALUES_YAML } from '../support/values-fixtures';
import { zipDirectory } from '../support/zip-fixtures';
import { createBucket, createSecret, getObjectText, motoEndpoint, putObject, s3Client } from './support/aws-clients';

jest.setTimeout(240_000);

const ROOT = path.join(__dirname, '..', '..');
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const GATEWAY = 'gw-lock';
const artifacts = `artifacts-lock-${suffix}`;
const stateBucket = `state-lock-${suffix}`;
const BUNDLE_KEY = 'releases/gateway-1.0.0.zip';
const PROVIDER_DIR = path.join('registry.terraform.io', 'hashicorp', 'aws', '5.100.0', 'linux_amd64');
const PROVIDER_FILE = 'terraform-provider-aws_v5.100.0_x5';

let tmp: string;
let sourceDir: string;
let secretArn: string;
let bundleSha: string;
let bundleVersionId: string | undefined;
let realMirror: string;
let swappedMirror: string;
/** The swapped package writes here when it runs. */
let mark: string;
let plan: BuildspecRunResult;

const config: GatewayConfigInput = {
  approval: { approvers: ['arn:aws:iam::123456789012:role/GatewayOperator'] },
  gatewayName: GATEWAY,
  target: { account: '123456789012', region: 'eu-central-1' },
  valuesSecretName: `gw-lock/${suffix}/values`,
  backend: { key: `gateways/${GATEWAY}/terraform.tfstate` },
};

/** A CLI config whose filesystem mirror holds a script under hashicorp/aws 5.100.0. */
function swappedProviderMirror(dir: string): string {
  const mirror = path.join(dir, 'swapped-mirror');
  fs.mkdirSync(path.join(mirror, PROVIDER_DIR), { recursive: true });
  fs.writeFileSync(path.join(mirror, PROVIDER_DIR, PROVIDER_FILE), `#!/bin/sh\necho ran > ${JSON.stringify(mark)}\nexit 1\n`, { mode: 0o755 });
  const file = path.join(dir, 'swapped.tfrc');
  fs.writeFileSync(
    file,
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
  );
  return file;
}

async function build(spec: 'plan' | 'apply', name: string, cliConfig: string, pluginCache: string, extra: Record<string, string> = {}): Promise<BuildspecRunResult> {
  const runDir = path.join(tmp, name);
  return runBuildspec({
    buildspecPath: path.join(ROOT, 'buildspecs', `${spec}.yml`),
    sourceDir,
    projectEnv: { TF_VERSION: '1.11.4', ARTIFACTS_BUCKET: artifacts },
    overrides: {
      GATEWAY,
      RUN_ID: 'run-1',
      WORKSPACE_PREFIX: `workspaces/${GATEWAY}/run-1/`,
      BUNDLE_KEY,
      ...(bundleVersionId ? { BUNDLE_VERSION_ID: bundleVersionId } : {}),
      BUNDLE_SHA256: bundleSha,
      VALUES_SECRET_ARN: secretArn,
      WORK_DIR: path.join(runDir, 'workspace'),
      STEP_EXPORTS: path.join(runDir, 'exports.env'),
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_PLUGIN_CACHE_DIR: pluginCache,
      ...extra,
    },
    timeoutMs: 180_000,
  });
}

const approved = () => ({ PLAN_PREFIX: plan.exported.PLAN_PREFIX, PLAN_SHA256: plan.exported.PLAN_SHA256, PLAN_VERSION_ID: plan.exported.PLAN_VERSION_ID });

function freshCache(name: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-lock-'));
  mark = path.join(tmp, 'swapped-provider-ran');
  sourceDir = path.join(tmp, 'source');
  stepSourceInto(sourceDir);
  realMirror = awsProviderMirrorConfig(tmp);
  swappedMirror = swappedProviderMirror(tmp);
  await createBucket(artifacts);
  await createBucket(stateBucket);
  for (const bucket of [artifacts, stateBucket]) {
    await s3Client().send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  }
  secretArn = await createSecret(config.valuesSecretName as string, VALUES_YAML);
  const zip = await zipDirectory(path.join(ROOT, 'test', 'fixtures', 'sample-gateway-module'));
  bundleSha = createHash('sha256').update(zip).digest('hex');
  bundleVersionId = (await s3Client().send(new PutObjectCommand({ Bucket: artifacts, Key: BUNDLE_KEY, Body: zip }))).VersionId;

  // RenderWorkspace's files; providers.tf.json less the providers that cannot be had offline, and the override.
  const parsed = parseGatewayConfig(config);
  const prefix = `workspaces/${GATEWAY}/run-1/`;
  for (const file of renderWorkspace({ config: parsed, backend: resolveBackend(parsed, stateBucket), deployerRoleArn: 'arn:aws:iam::123456789012:role/deployer' })) {
    if (file.name === PLAN_READER_ACCESS_FILE) continue;
    const body = file.name === 'providers.tf.json' ? JSON.stringify(withoutOfflineProviders(JSON.parse(file.content)), null, 2) : file.content;
    await putObject(artifacts, `${prefix}${file.name}`, body);
  }
  await putObject(artifacts, `${prefix}emulator_override.tf.json`, JSON.stringify(emulatorOverride(motoEndpoint()), null, 2));

  plan = await build('plan', 'plan', realMirror, freshCache('plan-cache'));
  if (plan.status !== 'SUCCEEDED') throw new Error(`plan failed:\n${plan.log}`);
});

afterAll(async () => {
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

/** The h1: checksum Terraform records for a package directory (its dirhash), as `terraform providers lock` would. */
function lockFor(mirrorConfig: string): string {
  const dir = path.join(tmp, `lock-${Date.now()}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ terraform: { required_providers: { aws: { source: 'hashicorp/aws', version: '5.100.0' } } } }));
  execFileSync('terraform', ['init', '-input=false', '-no-color', '-backend=false'], { cwd: dir, env: { ...process.env, TF_CLI_CONFIG_FILE: mirrorConfig, CHECKPOINT_DISABLE: '1' }, stdio: 'pipe' });
  return fs.readFileSync(path.join(dir, '.terraform.lock.hcl'), 'utf-8');
}

test('Plan was made with the real provider, and the plan binary carries its lock file', () => {
  expect(plan.log).toMatch(/Installed hashicorp\/aws v5\.100\.0|Using hashicorp\/aws v5\.100\.0/);
  expect(plan.exported.PLAN_SHA256).toMatch(/^[0-9a-f]{64}$/);
});

test('another package under the pinned version is refused at init, before it runs: provider-checksum, nothing applied', async () => {
  const apply = await build('apply', 'apply-swapped', swappedMirror, freshCache('apply-swapped-cache'), approved());
  expect(apply.status).toBe('FAILED');
  expect(apply.exported.FAILURE_CLASS).toBe('provider-checksum');
  expect(apply.log).toMatch(/doesn't match any of the\s+checksums previously recorded in the dependency lock file/);
  expect(apply.log).not.toMatch(/Installed hashicorp\/aws/);
  expect(fs.existsSync(mark)).toBe(false);
  const report = JSON.parse(await getObjectText(artifacts, apply.exported.FAILURE_REPORT_KEY)) as { advice: string };
  expect(report.advice).toMatch(/Nothing was applied and the package was not run/);
});

test('a lock file in S3 rewritten to the swapped package\'s checksum changes nothing: Apply reads the one in the approved plan', async () => {
  const forged = lockFor(swappedMirror);
  expect(forged).toMatch(/h1:/);
  await putObject(artifacts, `${plan.exported.PLAN_PREFIX}terraform.lock.hcl`, forged);
  const apply = await build('apply', 'apply-forged-lock', swappedMirror, freshCache('apply-forged-cache'), approved());
  expect(apply.status).toBe('FAILED');
  expect(apply.exported.FAILURE_CLASS).toBe('provider-checksum');
  // Refused while installing, not later: with the S3 copy, init would install the package and only `terraform apply`
  // would stop ("Inconsistent dependency lock file"), the package already in the workspace.
  expect(apply.log).toMatch(/doesn't match any of the\s+checksums previously recorded/);
  expect(apply.log).not.toMatch(/Installed hashicorp\/aws/);
  expect(fs.existsSync(mark)).toBe(false);
});

test('the package planted in the shared plugin cache is skipped: Apply installs the real one and applies the plan', async () => {
  const cache = freshCache('poisoned-cache');
  fs.mkdirSync(path.join(cache, PROVIDER_DIR), { recursive: true });
  fs.copyFileSync(path.join(path.dirname(swappedMirror), 'swapped-mirror', PROVIDER_DIR, PROVIDER_FILE), path.join(cache, PROVIDER_DIR, PROVIDER_FILE));
  const apply = await build('apply', 'apply-poisoned-cache', realMirror, cache, approved());
  if (apply.status !== 'SUCCEEDED') throw new Error(`apply failed:\n${apply.log}`);
  expect(fs.existsSync(mark)).toBe(false);
  // The cache now holds the real package again, for the next build.
  expect(fs.statSync(path.join(cache, PROVIDER_DIR, PROVIDER_FILE)).size).toBeGreaterThan(1_000_000);
});

/**
 * terraform.providerHashes: RenderWorkspace writes the lock file, which only it may write, so Plan's `terraform init`
 * already knows the packages. The hashes are the ones real Terraform records for the mirror's provider.
 */
describe('a lock file rendered from terraform.providerHashes', () => {
  let hashes: string[];
  /** A second run's workspace, rendered with the hashes; returns the overrides that point a build at it. */
  async function renderedRun(runId: string): Promise<Record<string, string>> {
    const parsed = parseGatewayConfig({ ...config, terraform: { providerHashes: { aws: hashes } } });
    const prefix = `workspaces/${GATEWAY}/${runId}/`;
    for (const file of renderWorkspace({ config: parsed, backend: resolveBackend(parsed, stateBucket), deployerRoleArn: 'arn:aws:iam::123456789012:role/deployer' })) {
      if (file.name === PLAN_READER_ACCESS_FILE) continue;
      const body = file.name === 'providers.tf.json' ? JSON.stringify(withoutOfflineProviders(JSON.parse(file.content)), null, 2) : file.content;
      await putObject(artifacts, `${prefix}${file.name}`, body);
    }
    await putObject(artifacts, `${prefix}emulator_override.tf.json`, JSON.stringify(emulatorOverride(motoEndpoint()), null, 2));
    return { RUN_ID: runId, WORKSPACE_PREFIX: prefix };
  }

  beforeAll(() => {
    hashes = [...lockFor(realMirror).matchAll(/"(h1:[^"]+|zh:[^"]+)"/g)].map((m) => m[1]);
    expect(hashes.length).toBeGreaterThan(0);
  });

  test('on a warm build cache, Plan installs nothing: the provider comes from the cache, checked against the rendered lock', async () => {
    // The cache the first Plan filled (beforeAll): without a lock file, Plan installed from the origin even so.
    expect(plan.log).toMatch(/^- Installing hashicorp\/aws v5\.100\.0/m);
    const warm = await build('plan', 'plan-rendered-lock', realMirror, path.join(tmp, 'plan-cache'), await renderedRun('run-2'));
    if (warm.status !== 'SUCCEEDED') throw new Error(`plan failed:\n${warm.log}`);
    expect(warm.log).toMatch(/^- Using hashicorp\/aws v5\.100\.0 from the shared cache directory/m);
    expect(warm.log).not.toMatch(/^- Installing /m);
  });

  test('an origin that hands over another package is refused at Plan already, before the package runs', async () => {
    // Without the rendered lock, Plan would install this package and run it (the plan's own lock records whatever it got).
    const refused = await build('plan', 'plan-rendered-lock-swapped', swappedMirror, freshCache('plan-swapped-cache'), await renderedRun('run-3'));
    expect(refused.status).toBe('FAILED');
    expect(refused.exported.FAILURE_CLASS).toBe('provider-checksum');
    expect(refused.log).toMatch(/doesn't match any of the\s+checksums previously recorded in the dependency lock file/);
    expect(fs.existsSync(mark)).toBe(false);
  });
});
