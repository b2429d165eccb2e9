/**
 * Issue #7, item 3: the bad-input table. Each malformed input is rehearsed through the synthesized state machine
 * and must be refused at Preflight, before any Terraform runs (no Plan, ListVpcState or Apply, no CodeBuild
 * build), with its typed error naming the file, key or version, operators told, no value of the values secret in
 * any message, and nothing changed: the Terraform state bucket, the artifacts bucket (except the bundle the
 * rehearsal itself uploads for the run) and the table's CURRENT items are the same before and after.
 *
 * One gateway, deployed at 2.0.0 (so downgrade and redeploy have something to refuse): what a successful install
 * leaves behind is seeded, not rehearsed (rehearsal.test.ts rehearses installs), with the product's own writer for
 * the CURRENT and history items (RecordDeployment's recordSuccess) and a Terraform state object at the backend key.
 * Every bad bundle is named gateway-3.0.0.zip, an upgrade, so the version check lets it through to the bundle
 * checks. Operations on a gateway with nothing deployed use a second gatewayName in the same emulator namespace.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { GetCallerIdentityCommandOutput } from '@aws-sdk/client-sts';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { recordSuccess } from '../../lambdas/shared/adapters/history-table';
import { parseGatewayConfig, type GatewayConfigInput } from '../../lambdas/shared/domain/gateway-config';
import type { DeploymentRecord } from '../../lambdas/shared/domain/history';
import { resolveBackend } from '../../lambdas/shared/domain/workspace';
import { EXAMPLE_CONFIG, loadGatewayConfig } from '../../lib/config';
import { REHEARSAL_ACCOUNT, REHEARSAL_REGION, resolveStack, synthesize } from '../rehearsal/template';
import { SAMPLE_MODULE_DIR, rehearsalResources, rehearse, type RehearsalOptions, type RehearsalReport, type RehearsalResources } from '../rehearsal/harness';
import { CANARY, INVALID_YAML, VALUES_YAML, expectNoCanary, placeholderYaml, valuesYaml } from '../support/values-fixtures';
import { buildZip, renameEntry, type ZipFixtureFile } from '../support/zip-fixtures';
import { dynamoDbClient, motoEndpoint, putObject, s3Client } from './support/aws-clients';

jest.setTimeout(120_000);

/** One prefix for the whole file: the loaded handlers keep the resource names of the first rehearsal. */
const prefix = `bad-input-${process.pid}-${Date.now().toString(36)}`;
const GATEWAY = 'gateway';
/** A gateway of the same stack namespace that was never deployed. */
const FRESH_GATEWAY = 'fresh-gateway';
/**
 * Its own values secret: these cases write broken values.yaml, and the other rehearsal files (in the other jest
 * worker, against the same moto_server) use the default secret name.
 */
const SECRET_NAME = `${prefix}/values.yaml`;
const BASE_CONFIG: GatewayConfigInput = { ...EXAMPLE_CONFIG, valuesSecretName: SECRET_NAME };
const OTHER_ACCOUNT = '111122223333';
const WRONG_SHA256 = 'ab'.repeat(32);

let workDir: string;
/** The gateway's resources in the emulator, with a deployed 2.0.0 seeded (beforeAll). */
let resources: RehearsalResources;
let runCount = 0;

const run = (options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, `run-${++runCount}`), prefix, valuesYaml: VALUES_YAML, config: BASE_CONFIG, ...options });

// ---------------------------------------------------------------------------------------------------------------
// Bundles, built in memory from the sample module and written once each.

function moduleFiles(dir = SAMPLE_MODULE_DIR, rel = ''): ZipFixtureFile[] {
  const out: ZipFixtureFile[] = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...moduleFiles(dir, name));
    else out.push({ name, content: fs.readFileSync(path.join(dir, name)) });
  }
  return out;
}

const BUNDLES = {
  /** The sample module, unchanged. */
  good: async () => buildZip(moduleFiles()),
  /** Same-length renames of CHANGELOG.md (yazl refuses such names itself). */
  dotDot: async () => renameEntry(await buildZip(moduleFiles()), 'CHANGELOG.md', '../evilxx.tf'),
  absolute: async () => renameEntry(await buildZip(moduleFiles()), 'CHANGELOG.md', '/etc/evil.tf'),
  symlink: async () => buildZip([...moduleFiles(), { name: 'evil-link.tf', content: '/etc/passwd', mode: 0o120777 }]),
  duplicate: async () => buildZip([...moduleFiles(), { name: 'main.tf', content: 'resource "terraform_data" "other" {}\n' }]),
  noMainTf: async () => buildZip(moduleFiles().filter((f) => f.name !== 'main.tf')),
  /** The usual mistake: the folder zipped instead of its contents. */
  nested: async () => buildZip(moduleFiles().map((f) => ({ ...f, name: `gateway/${f.name}` }))),
  /** Random bytes (fixed, so the case is reproducible) under a bundle's name. */
  notZip: async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 17) % 251)),
} as const;
type BundleName = keyof typeof BUNDLES;

const bundleFiles = new Map<string, string>();

/** The bundle `kind` as gateway-<version>.zip on disk (the harness uploads it to releases/ under that name). */
async function bundleFile(kind: BundleName, version: string): Promise<string> {
  const key = `${kind}@${version}`;
  if (!bundleFiles.has(key)) {
    const dir = path.join(workDir, 'bundles', kind);
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, `gateway-${version}.zip`);
    await fs.promises.writeFile(file, await BUNDLES[kind]());
    bundleFiles.set(key, file);
  }
  return bundleFiles.get(key)!;
}

// ---------------------------------------------------------------------------------------------------------------
// What "unchanged" means: every object version (key, version id, ETag) of the state bucket and of the artifacts
// bucket, and every CURRENT item of the table.

interface Snapshot {
  state: string[];
  artifacts: string[];
  current: string[];
}

async function objectVersions(bucket: string): Promise<string[]> {
  const s3 = s3Client();
  try {
    const out: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      for (const v of page.Versions ?? []) out.push(`${v.Key} ${v.VersionId} ${v.ETag}${v.IsLatest ? ' latest' : ''}`);
      for (const m of page.DeleteMarkers ?? []) out.push(`${m.Key} ${m.VersionId} delete-marker${m.IsLatest ? ' latest' : ''}`);
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
    return out.sort();
  } finally {
    s3.destroy();
  }
}

async function tableItems(table: string): Promise<Array<Record<string, unknown>>> {
  const ddb = dynamoDbClient();
  try {
    const items: Array<Record<string, unknown>> = [];
    let start: Record<string, any> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as Array<Record<string, unknown>>));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  } finally {
    ddb.destroy();
  }
}

/** The same item always prints the same, whatever order the attributes come back in. */
const sortedKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortedKeys)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, sortedKeys(v)]))
      : value;

const skOf = (item: Record<string, unknown>) => (item.sk as { S?: string } | undefined)?.S;

async function snapshot(resources: RehearsalResources, uploadedKey?: string): Promise<Snapshot> {
  const artifacts = await objectVersions(resources.artifactsBucket);
  return {
    state: await objectVersions(resources.stateBucket),
    // The bundle the harness uploads for the run is the rehearsal's doing, not the product's.
    artifacts: uploadedKey ? artifacts.filter((v) => !v.startsWith(`${uploadedKey} `)) : artifacts,
    current: (await tableItems(resources.table))
      .filter((item) => skOf(item) === 'CURRENT')
      .map((item) => JSON.stringify(sortedKeys(item)))
      .sort(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The root caller. moto 5.2.1 cannot be the root user: its STS GetCallerIdentity answers for an assumed role or
// an IAM user it issued the access key to, and with `arn:aws:sts::<account>:user/moto` for any other key; it has
// no notion of root credentials (moto/sts/models.py, get_caller_identity). So for this one case the answer of the
// emulator is changed where it enters Preflight's STS client, to what AWS answers for root credentials
// (`arn:aws:iam::<account>:root`, UserId the account); the account still comes from the emulator, and everything
// after the SDK call (Preflight's port, checkIdentity, the state machine's catch, NotifyFailure) runs unchanged.
// The decision itself is also unit-tested (test/unit/preflight.test.ts, "the root user → IdentityError").

const ROOT_MIDDLEWARE = 'rehearsalRootCaller';

function stsOfPreflight(): { middlewareStack: { add: (...a: any[]) => void; remove: (name: string) => boolean } } {
  // The same module instance the harness's handlers load (one module registry per test file).
  return (require('../../lambdas/shared/adapters/clients/sts') as typeof import('../../lambdas/shared/adapters/clients/sts')).sts as never;
}

function answerAsRootUser(): void {
  stsOfPreflight().middlewareStack.add(
    (next: (args: unknown) => Promise<{ output: GetCallerIdentityCommandOutput }>) => async (args: unknown) => {
      const result = await next(args);
      const account = result.output.Account!;
      return { ...result, output: { ...result.output, UserId: account, Arn: `arn:aws:iam::${account}:root` } };
    },
    { step: 'initialize', name: ROOT_MIDDLEWARE },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The table.

interface BadInput {
  readonly name: string;
  /** The typed error the run must fail with. */
  readonly error: 'InputError' | 'BundleError' | 'ValuesError' | 'IdentityError' | 'VersionError' | 'ConfigError';
  /** What the message must say: the file, key or version at fault (and the fix, where it is short). */
  readonly says: readonly string[];
  readonly bundle?: BundleName;
  /** The version in the bundle's file name; default 3.0.0, an upgrade over the installed 2.0.0. */
  readonly bundleVersion?: string;
  readonly input?: unknown;
  readonly values?: string;
  readonly config?: Partial<GatewayConfigInput>;
  readonly rootCaller?: boolean;
}

const cfg = (over: Partial<GatewayConfigInput>): Partial<GatewayConfigInput> => over;
const limits = (l: { maxEntries?: number; maxUncompressedBytes?: number }) => cfg({ bundle: { releasesPrefix: 'releases/', ...l } });
const missing = (key: 'tenant' | 'domain' | 'clientId' | 'clientSecret' | 'helmRepoUsername' | 'helmRepoPassword', path: string): BadInput => ({
  name: `values: ${path} missing`,
  error: 'ValuesError',
  values: valuesYaml({ [key]: null }),
  says: [`values secret "${SECRET_NAME}" is incomplete`, `- ${path}: is missing or not a string`],
});

const CASES: BadInput[] = [
  // The input.
  { name: 'input: unknown field (allowDowngrad, misspelt)', error: 'InputError', input: { version: '3.0.0', allowDowngrad: true }, says: ['execution input is invalid', '- allowDowngrad: unknown field'] },
  { name: 'input: version not semver ("1.0")', error: 'InputError', input: { version: '1.0' }, says: ['- version: "1.0" is not a semantic version such as 0.8.1'] },
  { name: 'input: version and bundleKey disagree', error: 'InputError', input: { version: '3.0.0', bundleKey: 'releases/gateway-3.0.1.zip' }, says: ['- version: "3.0.0" does not match bundleKey "releases/gateway-3.0.1.zip" (3.0.1)'] },
  { name: 'input: not an object', error: 'InputError', input: '3.0.0', says: ['execution input is invalid', '(top level)'] },
  // The bundle's key.
  { name: 'bundle missing: the input names 9.9.9, never uploaded', error: 'BundleError', input: { version: '9.9.9' }, says: ['/releases/gateway-9.9.9.zip not found', 'upload gateway-9.9.9.zip'] },
  { name: 'bundleKey not a bundle name (releases/gateway.zip)', error: 'BundleError', input: { bundleKey: 'releases/gateway.zip' }, says: ['bundle key "releases/gateway.zip" is not named gateway-<version>.zip'] },
  { name: 'bundleKey not a bundle name (releases/other.tar.gz)', error: 'BundleError', input: { bundleKey: 'releases/other.tar.gz' }, says: ['bundle key "releases/other.tar.gz" is not named gateway-<version>.zip'] },
  { name: 'bundleKey with a non-semver version (gateway-1.0.zip)', error: 'BundleError', input: { bundleKey: 'releases/gateway-1.0.zip' }, says: ['bundle "gateway-1.0.zip" does not carry a semantic version'] },
  { name: 'bundleKey outside the releases prefix', error: 'BundleError', input: { bundleKey: 'uploads/gateway-3.0.0.zip' }, says: ['bundle key "uploads/gateway-3.0.0.zip" is not directly under the releases prefix "releases/"'] },
  // The bundle's content.
  { name: 'bundle: entry with ../', error: 'BundleError', bundle: 'dotDot', says: ['gateway-3.0.0.zip: unsafe entry', '../evilxx.tf'] },
  { name: 'bundle: entry with an absolute path', error: 'BundleError', bundle: 'absolute', says: ['gateway-3.0.0.zip: unsafe entry', '/etc/evil.tf'] },
  { name: 'bundle: symlink entry', error: 'BundleError', bundle: 'symlink', says: ['gateway-3.0.0.zip: entry "evil-link.tf" is a symbolic link'] },
  { name: 'bundle: the same entry twice', error: 'BundleError', bundle: 'duplicate', says: ['gateway-3.0.0.zip: entry "main.tf" appears more than once'] },
  { name: 'bundle: too many entries (bundle.maxEntries 5)', error: 'BundleError', config: limits({ maxEntries: 5 }), says: ['gateway-3.0.0.zip: has 13 entries, over the limit of 5 (bundle.maxEntries)'] },
  { name: 'bundle: too large uncompressed (bundle.maxUncompressedBytes 4096)', error: 'BundleError', config: limits({ maxUncompressedBytes: 4096 }), says: ['gateway-3.0.0.zip: unpacks to', 'over the limit of 4096 (bundle.maxUncompressedBytes)'] },
  { name: 'bundle: main.tf missing', error: 'BundleError', bundle: 'noMainTf', says: ['gateway-3.0.0.zip: required module files missing at the archive root: main.tf'] },
  { name: 'bundle: the module folder zipped instead of its contents', error: 'BundleError', bundle: 'nested', says: ['missing at the archive root: main.tf, variables.tf, versions.tf, outputs.tf', 'the files are inside "gateway/"'] },
  { name: 'bundle: not a zip (random bytes named gateway-3.0.0.zip)', error: 'BundleError', bundle: 'notZip', says: ['gateway-3.0.0.zip is not a valid zip archive'] },
  { name: 'bundle: sha256 differs from bundleSha256', error: 'BundleError', input: { version: '3.0.0', bundleSha256: WRONG_SHA256 }, says: ['gateway-3.0.0.zip has sha256 ', `not the ${WRONG_SHA256} given in the input`] },
  // The values secret.
  { name: 'values: not YAML', error: 'ValuesError', values: INVALID_YAML, says: [`values secret "${SECRET_NAME}" is not valid YAML: line `] },
  { name: 'values: empty', error: 'ValuesError', values: '\n', says: [`values secret "${SECRET_NAME}" is empty`] },
  { name: 'values: a YAML list, not a mapping', error: 'ValuesError', values: `- ${CANARY.tenant}\n- ${CANARY.clientSecret}\n`, says: [`values secret "${SECRET_NAME}" must be a YAML mapping`] },
  missing('tenant', 'tenant'),
  missing('domain', 'auth.domain'),
  missing('clientId', 'auth.orchestrator.clientId'),
  missing('clientSecret', 'auth.orchestrator.clientSecret'),
  missing('helmRepoUsername', 'helmRepoUsername'),
  missing('helmRepoPassword', 'helmRepoPassword'),
  {
    name: "values: the HOWTO's placeholders left in",
    error: 'ValuesError',
    values: placeholderYaml('tenant', 'clientId', 'clientSecret', 'helmRepoUsername', 'helmRepoPassword'),
    says: [`values secret "${SECRET_NAME}" still holds the HOWTO's example values at tenant, auth.orchestrator.clientId, auth.orchestrator.clientSecret, helmRepoUsername, helmRepoPassword`],
  },
  // The identity.
  { name: 'identity: another account than target.account', error: 'IdentityError', config: cfg({ target: { account: OTHER_ACCOUNT, region: 'eu-central-1' } }), says: [`running in AWS account ${REHEARSAL_ACCOUNT}, but the gateway config targets account ${OTHER_ACCOUNT}`] },
  { name: 'identity: the root user (STS answer substituted: moto has no root credentials)', error: 'IdentityError', rootCaller: true, says: [`the deployment runs as the root user (arn:aws:iam::${REHEARSAL_ACCOUNT}:root)`] },
  // The version against the installed 2.0.0.
  { name: 'version: downgrade 2.0.0 → 1.5.0 without allowDowngrade', error: 'VersionError', bundleVersion: '1.5.0', says: ['gateway 1.5.0 is older than the deployed 2.0.0; a downgrade needs "allowDowngrade": true'] },
  { name: 'version: 2.0.0 again without allowRedeploy', error: 'VersionError', bundleVersion: '2.0.0', says: ['gateway 2.0.0 is already deployed; set "allowRedeploy": true'] },
  // The configuration.
  { name: 'config: customized gateway.tf configured but not uploaded', error: 'BundleError', config: cfg({ customGatewayTfKey: 'custom/gateway.tf' }), says: ['customized gateway.tf s3://', '/custom/gateway.tf (customGatewayTfKey) not found'] },
  // Operations on a gateway with nothing deployed.
  { name: 'detach-vpc with nothing deployed', error: 'InputError', config: cfg({ gatewayName: FRESH_GATEWAY }), input: { operation: 'detach-vpc' }, says: [`nothing deployed for gateway ${FRESH_GATEWAY}: detach-vpc needs a deployed gateway`] },
  { name: 'drift-check with nothing deployed', error: 'InputError', config: cfg({ gatewayName: FRESH_GATEWAY }), input: { operation: 'drift-check' }, says: [`nothing deployed for gateway ${FRESH_GATEWAY}: drift-check needs a deployed gateway`] },
];

/** What every refusal at Preflight visits: no RenderWorkspace, Plan, ListVpcState, Apply or any build. */
const REFUSED_AT_PREFLIGHT = ['ReceiveRequest', 'AcquireLock', 'Preflight', 'NotifyFailure', 'ReleaseLock', 'RunOutcome', 'DeploymentFailed'];

/** Task state → its resource, from the synthesized definition: which tasks are Lambdas, which are builds. */
let taskResources: Map<string, string>;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-bad-input-'));
  const definition = resolveStack(synthesize(parseGatewayConfig(EXAMPLE_CONFIG)), prefix, `GatewayDeployer-${GATEWAY}`).definition;
  taskResources = new Map(
    Object.entries(definition.States as Record<string, { Type: string; Resource?: string }>)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name, s]) => [name, s.Resource ?? '']),
  );
  // A deployed 2.0.0, so that downgrade and redeploy have a version to be refused against.
  resources = await rehearsalResources({ motoEndpoint: motoEndpoint(), prefix, valuesYaml: VALUES_YAML, config: BASE_CONFIG });
  await seedDeployment(resources, '2.0.0');
  const current = (await tableItems(resources.table)).find((i) => skOf(i) === 'CURRENT');
  if ((current?.version as { S?: string } | undefined)?.S !== '2.0.0') throw new Error('the seeded CURRENT item does not say 2.0.0');
}, 180_000);

/** What a successful install of `version` leaves: RecordDeployment's two items, and a (resource-less) Terraform state. */
async function seedDeployment(where: RehearsalResources, version: string): Promise<void> {
  const config = parseGatewayConfig(BASE_CONFIG);
  const bundle = await fs.promises.readFile(await bundleFile('good', version));
  const at = new Date().toISOString();
  const record: DeploymentRecord = {
    gateway: GATEWAY,
    outcome: 'succeeded',
    executionArn: `arn:aws:states:${REHEARSAL_REGION}:${REHEARSAL_ACCOUNT}:execution:GatewayDeployment-${GATEWAY}:seeded-install`,
    executionName: 'seeded-install',
    startedAt: at,
    finishedAt: at,
    trigger: 'console',
    reason: '',
    change: 'install',
    fromVersion: '',
    toVersion: version,
    bundleKey: `releases/gateway-${version}.zip`,
    bundleSha256: createHash('sha256').update(bundle).digest('hex'),
    planSummary: '',
    risk: 'low',
    approvedBy: 'operator',
    approvalReason: '',
    agentVersion: version,
    agentImage: `quay.io/apheris/gateway-agent:${version}`,
    expectedAgentVersion: version,
    connectivity: 'passed',
    failedStep: '',
    error: '',
    warnings: '',
  };
  await recordSuccess(where.table, record);
  const state = { version: 4, terraform_version: '1.11.4', serial: 1, lineage: randomUUID(), outputs: {}, resources: [], check_results: null };
  await putObject(where.stateBucket, resolveBackend(config, where.stateBucket).key, JSON.stringify(state));
}

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

test('the table has at least 22 cases, each with its own name', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(22);
  expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
});

test.each(CASES.map((c) => [c.name, c] as const))('refused at Preflight, nothing changed: %s', async (_name, c) => {
  const bundlePath = await bundleFile(c.bundle ?? 'good', c.bundleVersion ?? '3.0.0');
  const uploadedKey = `releases/${path.basename(bundlePath)}`;
  const config = { ...BASE_CONFIG, ...c.config } as GatewayConfigInput;
  const gateway = config.gatewayName;
  let before: Snapshot | undefined;
  const runDir = path.join(workDir, `run-${runCount + 1}`);
  let report: RehearsalReport;
  try {
    report = await run({
      bundlePath,
      config,
      input: c.input ?? { version: c.bundleVersion ?? '3.0.0' },
      ...(c.values !== undefined ? { valuesYaml: c.values } : {}),
      ...(c.config?.target ? { accountMismatch: true } : {}),
      beforeRun: async (resources) => {
        before = await snapshot(resources, uploadedKey);
        if (c.rootCaller) answerAsRootUser();
      },
    });
  } finally {
    if (c.rootCaller) stsOfPreflight().middlewareStack.remove(ROOT_MIDDLEWARE);
  }

  // Failed at Preflight with the typed error, and nothing after it but the failure path.
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe(c.error);
  expect(report.states.find((s) => s.name === 'Preflight' && s.outcome === 'failed')).toMatchObject({ error: c.error });
  const visited = [...new Set(report.states.map((s) => s.name))];
  expect(visited).toEqual(REFUSED_AT_PREFLIGHT);
  for (const never of ['RenderWorkspace', 'Plan', 'ListVpcState', 'Apply']) expect(visited).not.toContain(never);
  // Every task that ran is a Lambda function or the direct DynamoDB ReleaseLock; no build was started.
  for (const state of report.states.filter((s) => s.type === 'Task')) {
    expect({ state: state.name, resource: taskResources.get(state.name) }).toEqual({
      state: state.name,
      resource: expect.stringMatching(/^arn:aws:lambda:|:states:::dynamodb:/),
    });
  }
  expect(fs.existsSync(path.join(runDir, 'builds'))).toBe(false);

  // The error names the problem, in the cause and in the operators' notification.
  const message = JSON.parse(report.cause!) as { errorType: string; errorMessage: string };
  expect(message.errorType).toBe(c.error);
  for (const fragment of c.says) expect(message.errorMessage).toContain(fragment);
  expect(report.notifications).toHaveLength(1);
  const [notice] = report.notifications;
  expect(notice.topic).toBe('operators');
  expect(notice.subject).toBe(`Compute Gateway ${gateway}: deployment failed at Preflight (${c.error})`);
  for (const fragment of c.says) expect(notice.message).toContain(fragment);
  expect(notice.message).toContain('Nothing was applied.');

  // No value of the values secret in anything the run reported.
  expectNoCanary(JSON.stringify({ error: report.error, cause: report.cause, notifications: report.notifications }));

  // Nothing changed: state bucket, artifacts bucket (but the bundle the harness uploaded), CURRENT items; no lock left.
  // The deployed 2.0.0 has a Terraform state and a CURRENT item, so there is something that could change.
  expect(before!.state.some((v) => v.startsWith(`gateways/${GATEWAY}/terraform.tfstate `))).toBe(true);
  expect(before!.current.some((item) => item.includes('"2.0.0"'))).toBe(true);
  expect(await snapshot(report.resources, uploadedKey)).toEqual(before);
  expect((await tableItems(report.resources.table)).filter((i) => skOf(i) === 'LOCK')).toEqual([]);
});

test('a GPU node pool without the nvidia.com/gpu taint is refused at synth/config time, before any run', async () => {
  const gpuConfig = {
    ...BASE_CONFIG,
    module: { ...EXAMPLE_CONFIG.module, karpenter_node_pools: { 'gpu-pool': { instance_families: ['p4d'], capacity_type: ['on-demand'] } } },
  } as GatewayConfigInput;
  const problem = /module\.karpenter_node_pools\["gpu-pool"\]\.taints: node pool "gpu-pool" has GPU instance families \(p4d\) but no \{ key = "nvidia\.com\/gpu", effect = "NoSchedule" \} taint/;

  // `cdk synth -c gatewayConfig=…` reads the file with loadGatewayConfig, which refuses it.
  const file = path.join(workDir, 'gpu-config.yaml');
  await fs.promises.writeFile(file, toYaml(gpuConfig));
  let atSynth: Error | undefined;
  try {
    loadGatewayConfig(file);
  } catch (error) {
    atSynth = error as Error;
  }
  expect(atSynth).toMatchObject({ name: 'ConfigError', message: expect.stringMatching(problem) });

  // The rehearsal parses its config the same way, before it creates, uploads or starts anything.
  const before = await snapshot(resources);
  let thrown: Error | undefined;
  let report: RehearsalReport | undefined;
  try {
    report = await run({ bundlePath: await bundleFile('good', '3.0.0'), config: gpuConfig });
  } catch (error) {
    thrown = error as Error;
  }
  expect(report).toBeUndefined();
  expect(thrown).toMatchObject({ name: 'ConfigError', message: expect.stringMatching(problem) });
  expect(thrown!.message).toMatch(/^rehearsal config is invalid:/);
  expectNoCanary(thrown!.message);
  // Not even the bundle was uploaded.
  expect(await snapshot(resources)).toEqual(before);
});
