/**
 * `npm run bench`: what the deployer costs on top of the tools it drives. Times a default rehearsal against the
 * bare commands an operator would run on the same sample module (terraform init/plan/apply, the kubectl and
 * helm checks), and prints the Lambda bundle sizes and the state transitions of a successful run.
 * A measurement, not a test: it prints figures and fails only when something does not run.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { buildSync } from 'esbuild';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseGatewayConfig } from '../../lambdas/shared/domain/gateway-config';
import { renderWorkspace, resolveBackend } from '../../lambdas/shared/domain/workspace';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { startMoto } from '../integration/support/moto';
import { SAMPLE_MODULE_DIR, SAMPLE_VALUES_YAML, isolateFromRealAws, rehearse } from '../rehearsal/harness';
import { agentDeployment, jobPod, node, startKubeStandin } from '../support/kube-standin';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

/** The same esbuild options as lib/constructs/deployer-function.ts. */
function bundleSizes(): Array<{ handler: string; bytes: number }> {
  const dirs = fs.readdirSync(path.join(ROOT, 'lambdas')).filter((d) => fs.existsSync(path.join(ROOT, 'lambdas', d, 'index.ts')));
  return dirs.map((dir) => {
    const out = buildSync({
      entryPoints: [path.join(ROOT, 'lambdas', dir, 'index.ts')],
      bundle: true,
      write: false,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      keepNames: true,
      external: ['@aws-sdk/*'],
    });
    return { handler: dir, bytes: out.outputFiles[0].contents.length };
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - start), value };
}

/** What an operator runs by hand, on the same module, state in the same emulator. */
async function bareCommands(workDir: string): Promise<number> {
  const dir = path.join(workDir, 'bare');
  await fs.promises.cp(SAMPLE_MODULE_DIR, path.join(dir, 'gateway'), { recursive: true });
  const bucket = `bench-state-${Date.now()}`;
  await new S3Client({ forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' } }));
  const config = parseGatewayConfig(EXAMPLE_CONFIG);
  for (const file of renderWorkspace({ config, backend: resolveBackend(config, bucket) })) {
    if (file.name !== 'providers.tf.json') await fs.promises.writeFile(path.join(dir, file.name), file.content);
  }
  await fs.promises.writeFile(path.join(dir, 'values.yaml'), SAMPLE_VALUES_YAML, { mode: 0o600 });
  const env = { ...process.env, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1', TF_VAR_helm_repository_username: 'u', TF_VAR_helm_repository_password: 'p' };
  const cluster = await startKubeStandin({
    deployments: [agentDeployment()],
    nodes: [node({ name: 'node-a', allocatableMemory: '16Gi' })],
    pods: [jobPod({ name: 'job-1', jobId: 'j1', memoryRequest: '4Gi' })],
  });
  try {
    const kubeconfig = path.join(dir, 'kubeconfig');
    cluster.writeKubeconfig(kubeconfig, { token: 'bench' });
    const kenv = { ...env, KUBECONFIG: kubeconfig, PATH: `${path.join(ROOT, 'test', 'support', 'helm-standin')}:${process.env.PATH}`, HELM_STANDIN_KUBE_URL: cluster.url };
    const { ms } = await timed(async () => {
      await run('terraform', ['init', '-no-color'], { cwd: dir, env });
      await run('terraform', ['plan', '-no-color', '-out=tfplan'], { cwd: dir, env });
      await run('terraform', ['apply', '-no-color', 'tfplan'], { cwd: dir, env });
      await run('kubectl', ['get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris', '-o', 'json'], { env: kenv });
      await run('helm', ['test', 'apheris-gateway', '-n', 'apheris', '--logs'], { env: kenv });
      await run('kubectl', ['get', 'po', '-n', 'apheris', '-l', 'apheris_job_id', '-o', 'json'], { env: kenv });
      await run('kubectl', ['get', 'nodes', '-o', 'json'], { env: kenv });
    });
    return ms;
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const sizes = bundleSizes();
  const workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gateway-bench-'));
  const moto = await startMoto();
  try {
    isolateFromRealAws(moto.endpoint);
    const bare = await bareCommands(workDir);
    const rehearsal = await timed(() => rehearse({ motoEndpoint: moto.endpoint, workDir: path.join(workDir, 'rehearsal'), prefix: 'bench' }));
    if (rehearsal.value.status !== 'SUCCEEDED') throw new Error(`the rehearsal failed: ${rehearsal.value.error}: ${rehearsal.value.cause}`);
    const transitions = rehearsal.value.states.filter((s) => s.outcome === 'succeeded' || s.outcome === 'caught').length;
    const builds = rehearsal.value.states.filter((s) => ['Plan', 'Apply', 'Verify'].includes(s.name) && s.outcome === 'succeeded').length;
    console.log('Lambda bundles (minified, AWS SDK external):');
    for (const s of sizes) console.log(`  ${s.handler.padEnd(24)} ${(s.bytes / 1024).toFixed(1).padStart(7)} KB`);
    console.log(`State transitions in a successful install: ${transitions}`);
    console.log(`CodeBuild builds per install: ${builds}`);
    console.log(`Bare commands (terraform init/plan/apply, kubectl, helm test): ${(bare / 1000).toFixed(1)} s`);
    console.log(`Rehearsal (whole state machine, same module):                 ${(rehearsal.ms / 1000).toFixed(1)} s`);
    console.log(`Ratio rehearsal / bare: ${(rehearsal.ms / bare).toFixed(2)}`);
  } finally {
    await moto.stop();
    await fs.promises.rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
