/**
 * The sample module's stand-in helm_release installs the chart with `helm install` when it is created, as the
 * vendor's helm_release does, so the seed's FAQ is reproducible offline: real terraform, the state in an S3 backend
 * on moto, the helm stand-in on PATH talking to the Kubernetes API stand-in. A release already on the cluster makes
 * the apply fail with Helm's "cannot re-use a name that is still in use"; after `helm uninstall` the next apply
 * installs it.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import { decodeHelmRelease, helmReleaseSecret, startKubeStandin, type KubeStandin } from '../support/kube-standin';
import { createBucket, getObjectText, motoEndpoint } from './support/aws-clients';
import { copyDir, runTerraform, writeMotoBackendOverride, type TerraformResult } from './support/terraform';

jest.setTimeout(180_000);

const SAMPLE_MODULE = path.join(__dirname, '..', 'fixtures', 'sample-gateway-module');
const HELM_STANDIN_DIR = path.join(__dirname, '..', 'support', 'helm-standin');
const RELEASE = 'module.gateway.module.gateway_agent.terraform_data.helm_release';
const SEED_ERROR = 'cannot re-use a name that is still in use';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The HOWTO's deployment folder with the sample module, its state in a fresh moto bucket. */
async function workspace(chartVersion?: string): Promise<{ dir: string; bucket: string; stateKey: string }> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-helm-release-'));
  cleanups.push(() => fs.promises.rm(dir, { recursive: true, force: true }));
  const bucket = `tf-helm-release-${process.pid}-${Date.now().toString(36)}-${cleanups.length}`.toLowerCase();
  const stateKey = 'gateways/gw-helm/terraform.tfstate';
  await createBucket(bucket);
  await copyDir(SAMPLE_MODULE, path.join(dir, 'gateway'));
  const write = (name: string, value: unknown) => fs.promises.writeFile(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  await write('gateway.tf.json', {
    module: {
      gateway: {
        source: './gateway',
        name: 'gw-helm',
        helm_repository_username: '${var.helm_repository_username}',
        helm_repository_password: '${var.helm_repository_password}',
        helm_chart_values: ['${sensitive(file("${path.root}/values.yaml"))}'],
        ...(chartVersion ? { helm_chart_version: chartVersion } : {}),
      },
    },
  });
  await write('variables.tf.json', {
    variable: { helm_repository_username: { type: 'string', sensitive: true }, helm_repository_password: { type: 'string', sensitive: true } },
  });
  await write('outputs.tf.json', { output: { cluster_name: { value: '${module.gateway.cluster_name}' } } });
  await write('backend.tf.json', { terraform: { backend: { s3: { bucket, key: stateKey, region: 'eu-central-1', encrypt: true, use_lockfile: true } } } });
  await writeMotoBackendOverride(dir, motoEndpoint());
  await fs.promises.writeFile(path.join(dir, 'values.yaml'), 'tenant: gw-helm\n');
  return { dir, bucket, stateKey };
}

async function cluster(...secrets: ReturnType<typeof helmReleaseSecret>[]): Promise<KubeStandin> {
  const standin = await startKubeStandin({ secrets });
  cleanups.push(() => standin.stop());
  return standin;
}

/** terraform with the helm stand-in on PATH, pointed at the cluster stand-in (as the rehearsal's builds are). */
function terraform(dir: string, args: string[], standin?: KubeStandin): Promise<TerraformResult> {
  return runTerraform(dir, args, {
    TF_VAR_helm_repository_username: 'helm-user',
    TF_VAR_helm_repository_password: 'helm-password',
    ...(standin ? { PATH: `${HELM_STANDIN_DIR}${path.delimiter}${process.env.PATH}`, HELM_STANDIN_KUBE_URL: standin.url } : { HELM_STANDIN_KUBE_URL: '' }),
  });
}

/** The helm stand-in, asynchronously (the cluster stand-in answers from this process's event loop). */
function helm(standin: KubeStandin, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { PATH: `${HELM_STANDIN_DIR}${path.delimiter}${process.env.PATH}`, HELM_STANDIN_KUBE_URL: standin.url };
    execFile('helm', args, { env }, (error, stdout, stderr) => (error ? reject(new Error(`helm ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });
}

function expectOk(step: string, result: TerraformResult): void {
  if (result.code !== 0) throw new Error(`terraform ${step} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

async function applied(dir: string, standin?: KubeStandin): Promise<TerraformResult> {
  expectOk('init', await terraform(dir, ['init', '-no-color'], standin));
  return terraform(dir, ['apply', '-no-color', '-auto-approve'], standin);
}

test("a release already on the cluster but not in the state fails the apply with the seed's error", async () => {
  const { dir, bucket, stateKey } = await workspace();
  const standin = await cluster(helmReleaseSecret({ chartVersion: '0.16.19' }));

  const apply = await applied(dir, standin);

  expect(apply.code).not.toBe(0);
  const output = `${apply.stdout}\n${apply.stderr}`;
  expect(apply.stdout).toContain(`Error: INSTALLATION FAILED: ${SEED_ERROR}`);
  expect(apply.stderr).toContain('Error: local-exec provisioner error');
  // The Apply build's diagnosis is the seed's FAQ.
  expect(diagnoseTerraformFailure(output)).toMatchObject({ failure: 'helm-release-name-in-use', firstError: `INSTALLATION FAILED: ${SEED_ERROR}` });
  // The release on the cluster is untouched.
  expect(standin.state.secrets.map((s) => s.metadata.name)).toEqual(['sh.helm.release.v1.apheris-gateway.v1']);
  expect(decodeHelmRelease(standin.state.secrets[0]).chart.metadata.version).toBe('0.16.19');

  // The state keeps the rest of the apply: the release resource tainted, the outputs (the inspection reads them).
  const state = JSON.parse(await getObjectText(bucket, stateKey));
  const release = state.resources.find((r: { type: string; name: string }) => r.type === 'terraform_data' && r.name === 'helm_release');
  expect(release.instances[0].status).toBe('tainted');
  expect(release.instances[0].attributes.input.value.name).toBe('apheris-gateway');
  expect(state.outputs.cluster_name.value).toBe('gw-helm');

  // The seed's remedy: uninstall, apply again. The tainted resource is replaced, and the chart installed.
  expect(await helm(standin, 'uninstall', 'apheris-gateway', '-n', 'apheris')).toBe('release "apheris-gateway" uninstalled\n');
  expect(standin.state.secrets).toEqual([]);

  const again = await terraform(dir, ['apply', '-no-color', '-auto-approve'], standin);
  expectOk('apply after uninstall', again);
  expect(again.stdout).toContain(`${RELEASE} is tainted, so must be replaced`);
  expect(standin.state.secrets.map((s) => s.metadata.name)).toEqual(['sh.helm.release.v1.apheris-gateway.v1']);
  expect(decodeHelmRelease(standin.state.secrets[0])).toMatchObject({ name: 'apheris-gateway', namespace: 'apheris', chart: { metadata: { name: 'gateway-agent', version: '0.16.20' } } });
});

test('a first install creates the release; an upgrade changes it in place and does not install again', async () => {
  const { dir } = await workspace();
  const standin = await cluster();
  expectOk('first apply', await applied(dir, standin));
  expect(standin.state.secrets.map((s) => s.metadata.labels?.version)).toEqual(['1']);

  const gatewayFile = path.join(dir, 'gateway.tf.json');
  const gateway = JSON.parse(await fs.promises.readFile(gatewayFile, 'utf8'));
  gateway.module.gateway.helm_chart_version = '0.16.21';
  await fs.promises.writeFile(gatewayFile, JSON.stringify(gateway));
  const upgrade = await terraform(dir, ['apply', '-no-color', '-auto-approve'], standin);
  expectOk('upgrade', upgrade);
  expect(upgrade.stdout).toContain(`${RELEASE} will be updated in-place`);
  expect(upgrade.stdout).not.toContain('helm install');
});

test('without the cluster stand-in the module applies and installs nothing (the other module tests need no tools)', async () => {
  const { dir } = await workspace();
  const apply = await applied(dir);
  expectOk('apply', apply);
  expect(apply.stdout).toContain('helm_release: no cluster stand-in (HELM_STANDIN_KUBE_URL unset); apheris-gateway not installed');
});
