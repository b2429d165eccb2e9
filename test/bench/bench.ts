/**
 * `npm run bench`: the performance budget of docs/performance.md, measured. Lambda bundle sizes and cold imports;
 * Preflight's bundle check of the sample bundle (for information, no budget);
 * `cdk synth` from a fresh process; the state transitions and builds of a successful rehearsed install, and its
 * execution time against an operator's commands on the same sample module (the seed's procedure, and the bare tool
 * calls alone); and the whole `npm test` (skip it with `--skip-npm-test`: then it is reported NOT MEASURED).
 * Each figure with a budget is printed PASS or FAIL, and the exit code is 1 when one misses.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { inspectBundle, meterBundleContent } from '../../lambdas/shared/adapters/zip-reader';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { renderWorkspace, resolveBackend } from '../../lambdas/shared/domain/workspace';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { startMoto } from '../integration/support/moto';
import { SAMPLE_MODULE_DIR, SAMPLE_VALUES_YAML, isolateFromRealAws, rehearse, sampleBundleFile } from '../rehearsal/harness';
import { agentDeployment, jobPod, node, startKubeStandin } from '../support/kube-standin';
import { zipDirectory } from '../support/zip-fixtures';
import { awsProviderMirrorConfig } from '../support/terraform-mirror';
import { BUNDLE_BUDGET_BYTES, COLD_IMPORT_BUDGET_MS, bundleLambdas, type LambdaBundle } from '../support/lambda-bundles';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

/** docs/performance.md: a successful run's state transitions and CodeBuild builds. */
const MAX_TRANSITIONS = 30;
const MAX_BUILDS = 3;
const IMPORT_RUNS = 5;
const MAX_RATIO = 2;
const MAX_SYNTH_MS = 15_000;
const MAX_NPM_TEST_MS = 5 * 60_000;

/**
 * The environment variables a handler reads at import (`env('NAME')` in the files bundled into it), set to dummy
 * values, with what the Lambda runtime itself sets. Nothing else of this process's environment is passed on.
 */
function handlerEnv(bundle: LambdaBundle): NodeJS.ProcessEnv {
  const names = new Set<string>();
  for (const input of Object.keys(bundle.inputs).filter((f) => f.startsWith('lambdas/'))) {
    for (const [, name] of fs.readFileSync(path.join(ROOT, input), 'utf-8').matchAll(/\benv\('([A-Z0-9_]+)'\)/g)) names.add(name);
  }
  return {
    ...Object.fromEntries([...names].map((name) => [name, name.endsWith('_ARN') ? `arn:aws:sns:eu-central-1:123456789012:bench-${name.toLowerCase()}` : `bench-${name.toLowerCase()}`])),
    // Read as JSON at import (the approval function's list of approvers).
    APPROVERS: JSON.stringify(['arn:aws:iam::123456789012:role/bench-approver']),
    PATH: process.env.PATH,
    // The runtime resolves the AWS SDK it ships through NODE_PATH (/var/runtime/node_modules); here, this repository's.
    NODE_PATH: path.join(ROOT, 'node_modules'),
    AWS_REGION: 'eu-central-1',
    AWS_DEFAULT_REGION: 'eu-central-1',
    ACCOUNT_ID: '123456789012',
    AWS_LAMBDA_FUNCTION_NAME: `bench-${bundle.handler}`,
    POWERTOOLS_SERVICE_NAME: `gateway-deployer-${bundle.handler}`,
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

/** Median over fresh `node` processes of the time `require(...modules)` takes, in ms. */
async function medianRequireMs(modules: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const script = `const t=process.hrtime.bigint();for(const m of ${JSON.stringify(modules)})require(m);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const times: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    const { stdout } = await run(process.execPath, ['-e', script], { env, cwd: os.tmpdir(), timeout: 60_000 });
    times.push(Number(stdout));
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

interface ColdImport {
  readonly bundle: LambdaBundle;
  /** Requiring the bundle file, with the AWS SDK packages it requires. */
  readonly ms: number;
  /** Of which: requiring those SDK packages alone. */
  readonly sdkMs: number;
}

/** Each bundle's cold import: a fresh `node` requires the bundle file, as the runtime loads the handler module. */
async function coldImports(workDir: string): Promise<ColdImport[]> {
  const dir = path.join(workDir, 'bundles');
  const out: ColdImport[] = [];
  for (const bundle of bundleLambdas(dir)) {
    const env = handlerEnv(bundle);
    const ms = await medianRequireMs([bundle.file!], env);
    const sdkMs = bundle.externals.length > 0 ? await medianRequireMs(bundle.externals, env) : 0;
    out.push({ bundle, ms, sdkMs });
  }
  return out;
}

/**
 * Preflight's bundle check on the sample module's zip, in process: median ms of inspectBundle (central directory,
 * every entry inflated and counted, sha256), and of the inflating and counting alone (meterBundleContent).
 */
async function preflightBundleCheck(): Promise<{ zipBytes: number; uncompressedBytes: number; ms: number; meterMs: number }> {
  const zip = await zipDirectory(SAMPLE_MODULE_DIR);
  const limits = parseGatewayConfig(EXAMPLE_CONFIG).bundle;
  const median = async (fn: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = performance.now();
      await fn();
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  const { uncompressedBytes } = await inspectBundle('gateway-1.0.0.zip', zip, limits);
  return { zipBytes: zip.length, uncompressedBytes, ms: await median(() => inspectBundle('gateway-1.0.0.zip', zip, limits)), meterMs: await median(() => meterBundleContent('gateway-1.0.0.zip', zip, limits)) };
}

const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - start), value };
}

/** `aws` itself, not a version manager's shim (pyenv's adds half a second to every call on this machine). */
async function awsCli(): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'if command -v pyenv >/dev/null 2>&1; then pyenv which aws; else command -v aws; fi']);
  return stdout.trim();
}

/**
 * What an operator runs by hand on the same module, state in the same emulator:
 * - `seed`: the seed's procedure as written: `aws sts get-caller-identity` (its identity check), `terraform init`,
 *   `terraform apply` answered "yes", the agent check, `helm test`, and the Scaling queries; kubectl with the
 *   credentials `aws eks update-kubeconfig` configures (an `aws eks get-token` exec plugin).
 * - `bare`: the same tool calls alone, kubectl with a static token and no identity check: the floor.
 */
async function operatorCommands(workDir: string, variant: 'seed' | 'bare'): Promise<number> {
  const dir = path.join(workDir, variant);
  await fs.promises.cp(SAMPLE_MODULE_DIR, path.join(dir, 'gateway'), { recursive: true });
  const bucket = `bench-state-${variant}-${Date.now()}`;
  await new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' } }));
  const config = parseGatewayConfig(EXAMPLE_CONFIG);
  for (const file of renderWorkspace({ config, backend: resolveBackend(config, bucket) })) {
    if (file.name !== 'providers.tf.json') await fs.promises.writeFile(path.join(dir, file.name), file.content);
  }
  await fs.promises.writeFile(path.join(dir, 'values.yaml'), SAMPLE_VALUES_YAML, { mode: 0o600 });
  const env = { ...process.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1', TF_VAR_helm_repository_username: 'u', TF_VAR_helm_repository_password: 'p' };
  const aws = await awsCli();
  const cluster = await startKubeStandin({
    deployments: [agentDeployment()],
    nodes: [node({ name: 'node-a', allocatableMemory: '16Gi' })],
    pods: [jobPod({ name: 'job-1', jobId: 'j1', memoryRequest: '4Gi' })],
  });
  try {
    const kubeconfig = path.join(dir, 'kubeconfig');
    cluster.writeKubeconfig(
      kubeconfig,
      variant === 'seed' ? { exec: { command: aws, args: ['eks', 'get-token', '--cluster-name', config.gatewayName, '--region', 'eu-central-1', '--output', 'json'] } } : { token: 'bench' },
    );
    const kenv = { ...env, KUBECONFIG: kubeconfig, PATH: `${path.join(ROOT, 'test', 'support', 'helm-standin')}:${process.env.PATH}`, HELM_STANDIN_KUBE_URL: cluster.url };
    const { ms } = await timed(async () => {
      if (variant === 'seed') await run(aws, ['sts', 'get-caller-identity'], { env });
      await run('terraform', ['init', '-no-color'], { cwd: dir, env });
      await run('terraform', ['apply', '-no-color', '-auto-approve'], { cwd: dir, env });
      await run('kubectl', ['get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris', '-o', 'jsonpath={.items[*].spec.template.spec.containers[0].image}'], { env: kenv });
      await run('helm', ['test', 'apheris-gateway', '-n', 'apheris', '--logs'], { env: kenv });
      await run('kubectl', ['get', 'po', '-n', 'apheris', '-l', 'apheris_job_id', '-o', 'json'], { env: kenv });
      await run('kubectl', ['get', 'nodes', '-o', 'json'], { env: kenv });
    });
    if (variant === 'seed' && !cluster.requests.some((r) => r.authorization?.startsWith('Bearer k8s-aws-v1.'))) {
      throw new Error('the seed variant\'s kubectl did not authenticate with an aws eks get-token token');
    }
    return ms;
  } finally {
    await cluster.stop();
  }
}

/** `npx cdk synth` of the example config from a fresh process, as an operator runs it (into a scratch folder). */
async function synthMs(workDir: string): Promise<number> {
  const { ms } = await timed(() => run('npx', ['cdk', 'synth', '-q', '-o', path.join(workDir, 'cdk.out')], { cwd: ROOT, env: process.env, timeout: 300_000 }));
  return ms;
}

/** The whole `npm test` (type check, unit, CDK and integration tests), as CI runs it; a failing suite is no figure. */
async function npmTest(): Promise<{ ms: number; passed: boolean }> {
  const { ms, value: passed } = await timed(() =>
    run('npm', ['test', '--silent'], { cwd: ROOT, env: process.env, timeout: 1_800_000, maxBuffer: 256 * 1024 * 1024 }).then(
      () => true,
      () => false,
    ),
  );
  return { ms, passed };
}

/** Provider packages `terraform init` installed (from the registry; here the mirror), by build, in a rehearsal. */
interface ProviderInstalls {
  readonly plan: number;
  readonly apply: number;
  readonly providers: number;
}

function providerInstalls(rehearsalDir: string, since: Set<string>): ProviderInstalls {
  const buildsDir = path.join(rehearsalDir, 'builds');
  const counts = { plan: 0, apply: 0 };
  const providers = new Set<string>();
  for (const build of fs.readdirSync(buildsDir).filter((b) => !since.has(b))) {
    const log = path.join(buildsDir, build, 'build.log');
    if (!fs.existsSync(log)) continue;
    const text = fs.readFileSync(log, 'utf-8');
    const kind = /^\$ terraform apply/m.test(text) ? 'apply' : /^\$ terraform plan/m.test(text) ? 'plan' : undefined;
    for (const [, installing, cached] of text.matchAll(/^- (?:Installing ([\w./-]+) v|Using ([\w./-]+) v\S+ from the shared cache directory)/gm)) providers.add(installing ?? cached);
    const installs = [...text.matchAll(/^- Installing [\w./-]+ v/gm)].length;
    if (kind) counts[kind] += installs;
  }
  return { ...counts, providers: providers.size };
}

/**
 * Provider installs per run, with the rendered providers and the real AWS provider (from the machine's mirror, which
 * stands in for the registry download): a first install on a cold plugin cache, then another on the warm one. The
 * rehearsal shares one plugin cache between its builds, as Plan and Apply share their CodeBuild cache.
 */
async function providerInstallsPerRun(motoEndpoint: string, workDir: string): Promise<{ cold: ProviderInstalls; warm: ProviderInstalls; locked: ProviderInstalls }> {
  const dir = path.join(workDir, 'providers');
  const bundlePath = await sampleBundleFile(workDir, '1.0.0', { withAwsProvider: true });
  // The third run renders the lock file from terraform.providerHashes: the hashes real Terraform records for the mirror's package.
  const providerHashes = { aws: await mirrorHashes(workDir) };
  const runs: ProviderInstalls[] = [];
  for (const [gatewayName, terraform] of [['bench-cold', {}], ['bench-warm', {}], ['bench-locked', { providerHashes }]] as const) {
    const before = new Set(fs.existsSync(path.join(dir, 'builds')) ? fs.readdirSync(path.join(dir, 'builds')) : []);
    const report = await rehearse({ motoEndpoint, workDir: dir, prefix: 'bench', bundlePath, realAwsProvider: true, config: { ...EXAMPLE_CONFIG, gatewayName, terraform } });
    if (report.status !== 'SUCCEEDED') throw new Error(`the provider rehearsal ${gatewayName} failed: ${report.error}: ${report.cause}`);
    runs.push(providerInstalls(dir, before));
  }
  return { cold: runs[0], warm: runs[1], locked: runs[2] };
}

/** The lock-file hashes of hashicorp/aws 5.100.0 in the machine's mirror, as `terraform init` records them. */
async function mirrorHashes(workDir: string): Promise<string[]> {
  const dir = path.join(workDir, 'mirror-hashes');
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.writeFile(path.join(dir, 'main.tf.json'), JSON.stringify({ terraform: { required_providers: { aws: { source: 'hashicorp/aws', version: '5.100.0' } } } }));
  await promisify(execFile)('terraform', ['init', '-input=false', '-no-color', '-backend=false'], { cwd: dir, env: { ...process.env, TF_CLI_CONFIG_FILE: awsProviderMirrorConfig(dir), CHECKPOINT_DISABLE: '1' } });
  const lock = await fs.promises.readFile(path.join(dir, '.terraform.lock.hcl'), 'utf-8');
  return [...lock.matchAll(/"((?:h1|zh):[^"]+)"/g)].map((m) => m[1]);
}

async function main(argv: string[]): Promise<boolean> {
  const skipNpmTest = argv.includes('--skip-npm-test');
  const workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gateway-bench-'));
  // One thing at a time, each on an otherwise idle machine: imports and synth before the emulator starts.
  const imports = await coldImports(workDir);
  const bundleCheck = await preflightBundleCheck();
  const synth = await synthMs(workDir);
  const moto = await startMoto();
  let report: { rehearsal: Awaited<ReturnType<typeof rehearse>>; totalMs: number; seed: number; bare: number; installs: Awaited<ReturnType<typeof providerInstallsPerRun>> };
  try {
    isolateFromRealAws(moto.endpoint);
    const seed = await operatorCommands(workDir, 'seed');
    const bare = await operatorCommands(workDir, 'bare');
    const rehearsal = await timed(() => rehearse({ motoEndpoint: moto.endpoint, workDir: path.join(workDir, 'rehearsal'), prefix: 'bench' }));
    if (rehearsal.value.status !== 'SUCCEEDED') throw new Error(`the rehearsal failed: ${rehearsal.value.error}: ${rehearsal.value.cause}`);
    const installs = await providerInstallsPerRun(moto.endpoint, workDir);
    report = { rehearsal: rehearsal.value, totalMs: rehearsal.ms, seed, bare, installs };
  } finally {
    await moto.stop();
  }
  // Last, alone: the test suite starts its own emulator.
  const tests = skipNpmTest ? undefined : await npmTest();
  await fs.promises.rm(workDir, { recursive: true, force: true });

  const { rehearsal, totalMs, seed, bare, installs } = report;
  const executionMs = rehearsal.executionMs!;
  const transitions = rehearsal.states.filter((s) => s.outcome === 'succeeded' || s.outcome === 'caught').length;
  const builds = rehearsal.states.filter((s) => ['Plan', 'Apply', 'Verify'].includes(s.name) && s.outcome === 'succeeded').length;
  const budgets: boolean[] = [];
  const check = (ok: boolean) => {
    budgets.push(ok);
    return verdict(ok);
  };
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`Lambda bundles (minified, AWS SDK external; budget ${BUNDLE_BUDGET_BYTES / 1024} KB) and cold imports`);
  console.log(`(median of ${IMPORT_RUNS} fresh node ${process.version} processes requiring the bundle, AWS SDK from node_modules; budget ${COLD_IMPORT_BUDGET_MS} ms):`);
  for (const { bundle, ms, sdkMs } of imports) {
    const size = `${(bundle.bytes / 1024).toFixed(1).padStart(6)} KB ${check(bundle.bytes <= BUNDLE_BUDGET_BYTES)}`;
    const cold = `${ms.toFixed(0).padStart(5)} ms ${check(ms <= COLD_IMPORT_BUDGET_MS)}`;
    const sdk = bundle.externals.map((m) => m.replace('@aws-sdk/client-', '').replace('@aws-sdk/', '')).join(', ');
    console.log(`  ${bundle.handler.padEnd(22)} ${size}   cold import ${cold}   (AWS SDK alone ${sdkMs.toFixed(0)} ms: ${sdk || 'none'})`);
  }
  console.log(
    `Preflight's bundle check of the sample bundle (${(bundleCheck.zipBytes / 1024).toFixed(1)} KB, ${(bundleCheck.uncompressedBytes / 1024).toFixed(1)} KB unpacked; median of 50, in process): ` +
      `${bundleCheck.ms.toFixed(2)} ms, of which inflating and counting every entry ${bundleCheck.meterMs.toFixed(2)} ms`,
  );
  console.log(`npx cdk synth (example config, fresh process): ${seconds(synth)} (budget ${seconds(MAX_SYNTH_MS)}) ${check(synth <= MAX_SYNTH_MS)}`);
  console.log(`State transitions in a successful install: ${transitions} (budget ${MAX_TRANSITIONS}) ${check(transitions <= MAX_TRANSITIONS)}`);
  console.log(`CodeBuild builds per install: ${builds} (budget ${MAX_BUILDS}) ${check(builds <= MAX_BUILDS)}`);
  // Plan starts without a lock file, so Terraform (>= 1.4) installs from the origin and only then fills the cache: one
  // install per provider per run even on a warm cache. Apply, with the plan's lock file, must take all from the cache.
  const perRun = (i: ProviderInstalls) => `Plan ${i.plan}, Apply ${i.apply}, for ${i.providers} provider(s)`;
  const met = (i: ProviderInstalls) => i.apply === 0 && i.plan <= i.providers;
  console.log(`Provider installs per run, cold plugin cache: ${perRun(installs.cold)} (budget: Plan one per provider, Apply none) ${check(met(installs.cold))}`);
  console.log(`Provider installs per run, warm plugin cache: ${perRun(installs.warm)} (budget: the same; docs/performance.md says why not zero) ${check(met(installs.warm))}`);
  console.log(
    `Provider installs per run, warm plugin cache, lock file rendered from terraform.providerHashes: ${perRun(installs.locked)} (budget: none) ` +
      `${check(installs.locked.plan === 0 && installs.locked.apply === 0)}`,
  );
  console.log(`  (the real hashicorp/aws from the machine's mirror; helm, kubectl and kubernetes cannot be had offline)`);
  console.log(`The seed's procedure by hand (aws sts get-caller-identity, terraform init + apply, kubectl with aws eks get-token, helm test): ${seconds(seed)}`);
  console.log(`The same tool calls alone (static kubectl token, no identity check):                                                   ${seconds(bare)}`);
  console.log(`Rehearsed execution (the whole state machine, same module; set-up excluded):                                             ${seconds(executionMs)}`);
  console.log(`  (with the rehearsal's own set-up of emulator, stack and cluster stand-in: ${seconds(totalMs)})`);
  console.log(`Ratio execution / seed's procedure: ${(executionMs / seed).toFixed(2)} (budget ${MAX_RATIO}) ${check(executionMs <= MAX_RATIO * seed)}`);
  console.log(`Ratio execution / tool calls alone: ${(executionMs / bare).toFixed(2)} (for information: the floor no operator works at)`);
  if (tests === undefined) console.log(`npm test: NOT MEASURED (--skip-npm-test; budget ${seconds(MAX_NPM_TEST_MS)})`);
  else if (!tests.passed) console.log(`npm test: the suite FAILED after ${seconds(tests.ms)}, so no figure (run it alone to see why) ${check(false)}`);
  else console.log(`npm test (${os.cpus().length} cores): ${seconds(tests.ms)} (budget ${seconds(MAX_NPM_TEST_MS)}) ${check(tests.ms <= MAX_NPM_TEST_MS)}`);
  const missed = budgets.filter((ok) => !ok).length;
  console.log(`${missed === 0 ? 'Budgets: all measured ones met' : `Budgets: ${missed} missed`}${tests === undefined ? ' (npm test not measured)' : ''}`);
  return missed === 0;
}

main(process.argv.slice(2)).then(
  (met) => {
    if (!met) process.exitCode = 1;
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
