/**
 * The seed's FAQ "cannot re-use a name that is still in use" as cluster actions of the Verify build, for real:
 * buildspecs/verify.yml with CLUSTER_ACTION=inspect-release / uninstall-release, run by the local buildspec runner,
 * the bundled helper, real kubectl (its credential plugin printing the EKS token the helper minted in-process and
 * cached; `aws eks get-token` on PATH as the plugin's fallback) against the Kubernetes API stand-in over TLS, the
 * helm stand-in on PATH, the run's backend.tf.json and Terraform state in S3 (moto).
 *
 * Each case is one build, so only what needs the real tools is here: an unmanaged release inspected in detail
 * (the label query, the token, the report), Argo CD's annotation as kubectl returns it, and an uninstall refused
 * for Flux. The unmanaged uninstall and Flux's finding are rehearsed end to end on a first install whose apply
 * failed (rehearsal-name-reuse.test.ts); absent, managed-by-terraform, a release gone by the uninstall and an
 * unknown CLUSTER_ACTION are decided on recorded kubectl and helm output in test/unit/release-step.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderBackend } from '../../lambdas/shared/domain/workspace';
import { localKubectlVersion } from '../support/local-tools';
import { stepSourceInto } from '../support/build-cache';
import { runBuildspec, type BuildspecRunResult } from '../support/buildspec-runner';
import { agentDeployment, helmReleaseSecret, node, startKubeStandin, type KubeStandin, type KubeState } from '../support/kube-standin';
import { CANARY, VALUES_YAML, expectNoCredential } from '../support/values-fixtures';
import { createBucket, createSecret, getObjectText, putObject } from './support/aws-clients';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const HELM_STANDIN_DIR = path.join(ROOT, 'test', 'support', 'helm-standin');
const GATEWAY = 'gw-release';
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const bucket = `artifacts-release-${suffix}`;
const stateBucket = `state-release-${suffix}`;
const STATE_KEY = `gateways/${GATEWAY}/terraform.tfstate`;
const RELEASE_SECRET = 'sh.helm.release.v1.apheris-gateway.v1';
let tmp: string;
let sourceDir: string;
let secretArn: string;
let kubectlVersion: string;
let runs = 0;

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-release-'));
  sourceDir = path.join(tmp, 'source');
  stepSourceInto(sourceDir);
  await createBucket(bucket);
  await createBucket(stateBucket);
  secretArn = await createSecret(`gw-release/${suffix}/values`, VALUES_YAML);
  kubectlVersion = localKubectlVersion();
});

afterAll(async () => {
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

/** A Terraform state (format 4) as the sample module leaves it: the cluster, no helm_release. */
function terraformState(): string {
  return JSON.stringify({
    version: 4,
    terraform_version: '1.11.4',
    serial: 3,
    lineage: 'd7c5a1f0-0000-4000-8000-000000000000',
    outputs: { cluster_name: { value: GATEWAY, type: 'string' } },
    resources: [
      { mode: 'managed', type: 'terraform_data', name: 'cluster', module: 'module.gateway', provider: 'provider["terraform.io/builtin/terraform"]', instances: [{ attributes: { input: { value: GATEWAY, type: 'string' } } }] },
    ],
  });
}

interface RunOptions {
  action: string;
  cluster: Partial<KubeState>;
  /** The state object; undefined: none yet. */
  state?: string;
}

interface Run {
  result: BuildspecRunResult;
  standin: KubeStandin;
  report?: any;
  secretsAfter: string[];
  /** The token cache the helper seeded for kubectl's credential plugin (WORK_DIR/token.json), if any. */
  tokenCache?: any;
}

async function clusterAction(opts: RunOptions): Promise<Run> {
  const runId = `run-${(runs += 1)}`;
  const runDir = path.join(tmp, runId);
  fs.mkdirSync(path.join(runDir, 'home'), { recursive: true });
  const stateKey = `${STATE_KEY.replace('.tfstate', '')}-${runId}.tfstate`;
  await putObject(bucket, `workspaces/${GATEWAY}/${runId}/backend.tf.json`, JSON.stringify(renderBackend({ bucket: stateBucket, key: stateKey, region: 'eu-central-1', useLockfile: true })));
  if (opts.state !== undefined) await putObject(stateBucket, stateKey, opts.state);
  const standin = await startKubeStandin(opts.cluster);
  try {
    await putObject(bucket, `reports/${GATEWAY}/${runId}/apply.json`, JSON.stringify({ outputs: { cluster_name: GATEWAY, endpoint: standin.url, certificate_authority_data: standin.caPem } }));
    const result = await runBuildspec({
      buildspecPath: path.join(ROOT, 'buildspecs', 'verify.yml'),
      sourceDir,
      projectEnv: { ARTIFACTS_BUCKET: bucket, KUBECTL_VERSION: kubectlVersion, HELM_VERSION: '3.17.3', ROLLOUT_TIMEOUT_SECONDS: '3', ROLLOUT_POLL_SECONDS: '1', HELM_TEST_TIMEOUT: '1m' },
      overrides: {
        GATEWAY,
        RUN_ID: runId,
        VALUES_SECRET_ARN: secretArn,
        CLUSTER_ACTION: opts.action,
        WORK_DIR: path.join(runDir, 'work'),
        STEP_EXPORTS: path.join(runDir, 'exports.env'),
        PATH: `${HELM_STANDIN_DIR}:${process.env.PATH}`,
        HOME: path.join(runDir, 'home'),
        KUBECACHEDIR: path.join(runDir, 'kube-cache'),
        HELM_STANDIN_KUBE_URL: standin.url,
      },
      timeoutMs: 90_000,
    });
    const key = result.exported.RELEASE_REPORT_KEY;
    const report = key ? JSON.parse(await getObjectText(bucket, key)) : undefined;
    // Never the values: not the release secret's data, not the values secret. (That the helper takes nothing but
    // name and namespace from a helm_release in the state is release-step's unit test of stateFacts.)
    expectNoCredential(result.log);
    if (report) expectNoCredential(JSON.stringify(report));
    for (const s of (opts.cluster.secrets ?? [])) {
      const data = (s.data as { release: string }).release;
      expect(result.log).not.toContain(data);
      if (report) expect(JSON.stringify(report)).not.toContain(data);
    }
    const tokenFile = path.join(runDir, 'work', 'token.json');
    const tokenCache = fs.existsSync(tokenFile) ? JSON.parse(fs.readFileSync(tokenFile, 'utf-8')) : undefined;
    return { result, standin, report, secretsAfter: standin.state.secrets.map((s) => s.metadata.name), tokenCache };
  } finally {
    await standin.stop();
  }
}

/** A release installed by hand: its secret (holding the values, as Helm keeps them) and the agent it deployed. */
const releasedCluster = (agentOpts: Parameters<typeof agentDeployment>[0] = {}): Partial<KubeState> => ({
  deployments: [agentDeployment(agentOpts)],
  nodes: [node({ name: 'node-a' })],
  secrets: [helmReleaseSecret({ values: { auth: { orchestrator: { clientSecret: CANARY.clientSecret } } } })],
});
const FLUX = { extraLabels: { 'helm.toolkit.fluxcd.io/name': 'apheris-gateway', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' } };

describe('CLUSTER_ACTION=inspect-release', () => {
  test('a release installed by hand, not in the state: unmanaged; reported and exported; the build succeeds', async () => {
    const { result, standin, report, secretsAfter, tokenCache } = await clusterAction({ action: 'inspect-release', cluster: releasedCluster(), state: terraformState() });
    if (result.status !== 'SUCCEEDED') throw new Error(`inspect-release failed in ${result.failedPhase}:\n${result.log}`);
    expect(result.exported).toMatchObject({
      STEP_STATUS: 'succeeded',
      RELEASE_FINDING: 'unmanaged',
      RELEASE_REPORT_KEY: expect.stringMatching(new RegExp(`^reports/${GATEWAY}/run-\\d+/release-inspection\\.json$`)),
    });
    expect(result.exported.RELEASE_DETAIL).toContain(`Helm release apheris-gateway (revision 1, deployed, secret ${RELEASE_SECRET}) is on the cluster but the Terraform state at s3://${stateBucket}/`);
    expect(result.exported.RELEASE_DETAIL).toContain('helm uninstall apheris-gateway -n apheris');
    expect(result.exported).not.toHaveProperty('RELEASE_UNINSTALLED');
    expect(report).toMatchObject({
      action: 'inspect-release',
      finding: 'unmanaged',
      cluster: { name: GATEWAY, endpoint: standin.url },
      evidence: {
        revisions: [{ secret: RELEASE_SECRET, revision: 1, status: 'deployed' }],
        objects: [{ kind: 'Deployment', name: 'apheris-gateway-agent', annotations: { 'meta.helm.sh/release-name': 'apheris-gateway' } }],
        markers: [],
        terraform: { found: true, releases: [] },
      },
      helm: { listed: { name: 'apheris-gateway', status: 'deployed', chart: 'gateway-agent-0.16.20' } },
    });
    // Read only: the release is still there. kubectl asked for the release secrets by label, with an EKS token:
    // the one the helper minted and seeded (a fallback to the AWS CLI would have re-cached it as `aws-cli`).
    expect(secretsAfter).toEqual([RELEASE_SECRET]);
    const secretsQuery = standin.requests.find((q) => q.path === '/api/v1/namespaces/apheris/secrets');
    expect(secretsQuery?.query).toContain('labelSelector=owner%3Dhelm%2Cname%3Dapheris-gateway');
    expect(secretsQuery?.authorization).toMatch(/^Bearer k8s-aws-v1\./);
    expect(tokenCache).toMatchObject({ cluster: GATEWAY, source: 'sdk' });
    expect(standin.requests.every((q) => q.authorization === `Bearer ${tokenCache.credential.status.token}`)).toBe(true);
    expect(standin.unhandled).toEqual([]);
  });

  test("Argo CD's tracking annotation: managed-by-argocd", async () => {
    const cluster = releasedCluster({ annotations: { 'argocd.argoproj.io/tracking-id': 'gateway:apps/Deployment:apheris/apheris-gateway-agent' } });
    const { result } = await clusterAction({ action: 'inspect-release', cluster, state: terraformState() });
    expect(result.exported).toMatchObject({ STEP_STATUS: 'succeeded', RELEASE_FINDING: 'managed-by-argocd' });
  });

});

describe('CLUSTER_ACTION=uninstall-release', () => {
  test('Flux labels: refused, the build fails with FAILURE_CLASS=release-managed, the release stays', async () => {
    const { result, report, secretsAfter } = await clusterAction({ action: 'uninstall-release', cluster: releasedCluster(FLUX), state: terraformState() });
    expect(result.status).toBe('FAILED');
    expect(result.exported).toMatchObject({
      STEP_STATUS: 'failed',
      FAILURE_CLASS: 'release-managed',
      FAILURE_MESSAGE: expect.stringMatching(/^refused to uninstall apheris-gateway: the release is managed-by-flux: /),
      RELEASE_FINDING: 'managed-by-flux',
      RELEASE_UNINSTALLED: 'false',
    });
    expect(secretsAfter).toEqual([RELEASE_SECRET]);
    expect(result.log).not.toContain('$ helm uninstall');
    expect(report.uninstall).toMatchObject({ performed: false });
  });

});
