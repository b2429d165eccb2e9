/**
 * The Verify build for real: buildspecs/verify.yml run by the local buildspec runner, the bundled verify-step
 * helper, real kubectl (its credential plugin printing the EKS token the helper minted with the SDK; the real
 * `aws eks get-token` stays on PATH as the plugin's fallback, watched so a run shows whether it was needed) against
 * a Kubernetes API stand-in over TLS, and a helm stand-in on PATH that prints what helm prints. The cluster is
 * reached from the run's Terraform outputs in S3 (moto), exactly as after an apply.
 *
 * Each case here is one build (about a second of CPU), so only what needs the real tools is here: the healthy
 * cluster, failed connectivity tests with real helm output, and a leftover test pod really deleted. The other
 * branches of the step (the fallback by name, no agent, a rollout that does not finish, helm's exit code against
 * the pod's phase, no Terraform outputs) are decided on recorded kubectl and helm output in
 * test/unit/verify-step.test.ts; Verify after a plan without changes (planned outputs) is rehearsed end to end in
 * rehearsal.test.ts (NothingToApply).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { urlOfToken } from '../../buildspecs/helper/eks-token';
import { VerificationError, evaluateVerification } from '../../lambdas/shared/domain/evaluation';
import { localKubectlVersion } from '../support/local-tools';
import { stepSourceInto } from '../support/build-cache';
import { runBuildspec, type BuildspecRunResult } from '../support/buildspec-runner';
import { agentDeployment, jobPod, node, startKubeStandin, testPod, type KubeStandin, type KubeState } from '../support/kube-standin';
import { CANARY, VALUES_YAML, expectNoCredential } from '../support/values-fixtures';
import { createBucket, createSecret, getObjectText, putObject } from './support/aws-clients';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const HELM_STANDIN_DIR = path.join(ROOT, 'test', 'support', 'helm-standin');
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const bucket = `artifacts-verify-${suffix}`;
let tmp: string;
let sourceDir: string;
let secretArn: string;
let kubectlVersion: string;
let runs = 0;
/** A folder first on PATH whose `aws` logs each call to AWS_CALLS and runs the real AWS CLI. */
let awsSpyDir: string;

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-verify-'));
  sourceDir = path.join(tmp, 'source');
  stepSourceInto(sourceDir);
  await createBucket(bucket);
  secretArn = await createSecret(`gw-verify/${suffix}/values`, VALUES_YAML);
  kubectlVersion = localKubectlVersion();
  const realAws = execFileSync('bash', ['-c', 'command -v aws'], { encoding: 'utf-8' }).trim();
  awsSpyDir = path.join(tmp, 'aws-spy');
  fs.mkdirSync(awsSpyDir);
  fs.writeFileSync(path.join(awsSpyDir, 'aws'), `#!/usr/bin/env bash\necho "$*" >> "$AWS_CALLS"\nexec ${JSON.stringify(realAws)} "$@"\n`, { mode: 0o755 });
});

afterAll(async () => {
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

interface Run {
  result: BuildspecRunResult;
  standin: KubeStandin;
  report: any;
  /** The token cache the helper seeded for kubectl's credential plugin (WORK_DIR/token.json). */
  tokenCache: any;
  /** The AWS CLI calls of the build (the plugin's fallback), one line each. */
  awsCalls: string[];
}

/** The Verify buildspec as CodeBuild would run it for one run, with the helm stand-in on PATH. */
function verifyBuild(runId: string, extra: Record<string, string>): Promise<BuildspecRunResult> {
  const runDir = path.join(tmp, runId);
  fs.mkdirSync(path.join(runDir, 'home'), { recursive: true });
  return runBuildspec({
    buildspecPath: path.join(ROOT, 'buildspecs', 'verify.yml'),
    sourceDir,
    projectEnv: { ARTIFACTS_BUCKET: bucket, KUBECTL_VERSION: kubectlVersion, HELM_VERSION: '3.17.3', ROLLOUT_TIMEOUT_SECONDS: '3', ROLLOUT_POLL_SECONDS: '1', HELM_TEST_TIMEOUT: '1m' },
    overrides: {
      GATEWAY: 'gw-verify',
      RUN_ID: runId,
      VALUES_SECRET_ARN: secretArn,
      WORK_DIR: path.join(runDir, 'work'),
      STEP_EXPORTS: path.join(runDir, 'exports.env'),
      PATH: `${awsSpyDir}:${HELM_STANDIN_DIR}:${process.env.PATH}`,
      AWS_CALLS: path.join(runDir, 'aws-calls.log'),
      HOME: path.join(runDir, 'home'),
      KUBECACHEDIR: path.join(runDir, 'kube-cache'),
      ...extra,
    },
    timeoutMs: 90_000,
  });
}

/** One Verify build against a cluster in the given state; the Apply report's outputs point at the stand-in. */
async function verifyRun(state: Partial<KubeState>, helmEnv: Record<string, string> = {}): Promise<Run> {
  const runId = `run-${(runs += 1)}`;
  const standin = await startKubeStandin(state);
  try {
    const key = `reports/gw-verify/${runId}/apply.json`;
    await putObject(bucket, key, JSON.stringify({ outputs: { cluster_name: 'gw-verify', endpoint: standin.url, certificate_authority_data: standin.caPem } }));
    const result = await verifyBuild(runId, { HELM_STANDIN_KUBE_URL: standin.url, ...helmEnv });
    if (result.status !== 'SUCCEEDED') throw new Error(`verify build failed in ${result.failedPhase}:\n${result.log}`);
    const report = JSON.parse(await getObjectText(bucket, result.exported.VERIFICATION_REPORT_KEY));
    expectNoCredential(result.log);
    expectNoCredential(JSON.stringify(report));
    const runDir = path.join(tmp, runId);
    const tokenCache = JSON.parse(fs.readFileSync(path.join(runDir, 'work', 'token.json'), 'utf-8'));
    const callsFile = path.join(runDir, 'aws-calls.log');
    const awsCalls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf-8').split('\n').filter(Boolean) : [];
    return { result, standin, report, tokenCache, awsCalls };
  } finally {
    await standin.stop();
  }
}

const healthyCluster = (): Partial<KubeState> => ({
  deployments: [agentDeployment({ image: 'quay.io/apheris/gateway-agent:0.16.20', digest: `sha256:${'ab'.repeat(32)}` })],
  nodes: [node({ name: 'node-a', allocatableMemory: '16Gi' }), node({ name: 'node-b', allocatableMemory: '14Gi' })],
  pods: [
    jobPod({ name: 'job-1', jobId: 'j1', memoryRequest: '4Gi' }),
    jobPod({ name: 'job-2', jobId: 'j2', memoryRequest: '4Gi' }),
    jobPod({ name: 'job-3', jobId: 'j3', memoryRequest: '4096Mi' }),
    jobPod({ name: 'job-4', jobId: 'j4', memoryRequest: '3Gi' }),
  ],
});

let healthy: Promise<Run> | undefined;
/** The build against the healthy cluster, run once: the tests that only evaluate its result differently share it. */
const healthyRun = (): Promise<Run> => (healthy ??= verifyRun(healthyCluster()));

const toResult = (r: BuildspecRunResult) => ({ exported: Object.entries(r.exported).map(([Name, Value]) => ({ Name, Value })) });

test('a healthy cluster: the agent version, digest, rollout, connectivity and capacity are reported; the expected version matches', async () => {
  const { result, standin, report, tokenCache, awsCalls } = await healthyRun();
  expect(result.exported).toMatchObject({
    STEP_STATUS: 'succeeded',
    AGENT_FOUND: 'true',
    AGENT_DEPLOYMENT: 'apheris-gateway-agent',
    AGENT_VERSION: '0.16.20',
    AGENT_DIGEST: `sha256:${'ab'.repeat(32)}`,
    ROLLOUT_READY: 'true',
    CONNECTIVITY: 'passed',
  });
  // kubectl authenticated with an EKS token: the one the helper minted in-process (SDK) and cached for the
  // credential plugin, on every request; the AWS CLI never ran.
  expect(tokenCache).toMatchObject({ cluster: 'gw-verify', source: 'sdk' });
  const token: string = tokenCache.credential.status.token;
  expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  expect(standin.requests.length).toBeGreaterThan(0);
  expect(standin.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  expect(awsCalls).toEqual([]);
  // The token is what `aws eks get-token` would print here: GetCallerIdentity at the configured STS endpoint (the
  // emulator's AWS_ENDPOINT_URL), the cluster header signed, 60 s, the fake key of this environment.
  const url = urlOfToken(token);
  expect(url.origin).toBe(new URL(process.env.AWS_ENDPOINT_URL!).origin);
  expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
  expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
  expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
  expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^testing\/\d{8}\/eu-central-1\/sts\/aws4_request$/);
  // One list of Deployments, pods and nodes; helm printed the test's phase and logs, so the pod was not read.
  const discovery = /^\/(version|api|apis|api\/v1|apis\/[^/]+\/[^/]+)$/;
  expect(standin.requests.filter((r) => !discovery.test(r.path)).map((r) => `${r.method} ${r.path}`)).toEqual([
    'GET /apis/apps/v1/namespaces/apheris/deployments',
    'GET /api/v1/namespaces/apheris/pods',
    'GET /api/v1/nodes',
  ]);
  expect(report.agent.foundBy).toBe('found by label apheris-component=agent');
  expect(report.connectivity.logs).toContain('POD LOGS: apheris-gateway-connectivity-test');

  // Capacity: 4+4+4+3 GiB requested of 30 GiB; the 14 GiB node is not a multiple of the common 4 GiB request.
  expect(report.capacity).toMatchObject({
    computations: 4,
    mostCommonRequest: { memory: '4Gi', pods: 3 },
    totalRequestedBytes: 15 * 2 ** 30,
    totalAllocatableBytes: 30 * 2 ** 30,
    utilisation: 0.5,
  });
  expect(report.capacity.nodes).toEqual([
    { node: 'node-a', allocatableMemory: '16Gi', bytes: 16 * 2 ** 30, fits: 4 },
    { node: 'node-b', allocatableMemory: '14Gi', bytes: 14 * 2 ** 30, fits: 3 },
  ]);
  expect(report.capacity.recommendation).toContain('node-b (14Gi fits 3, leaving 2Gi unused)');

  expect(evaluateVerification(toResult(result), '0.16.20', bucket)).toMatchObject({ agentVersion: '0.16.20', versionCompared: true, connectivity: 'passed' });
  expect(evaluateVerification(toResult(result), 'v0.16.20', bucket).versionCompared).toBe(true);
  expect(evaluateVerification(toResult(result), undefined, bucket)).toMatchObject({ versionCompared: false, expectedAgentVersion: null });
});

test('another agent version than communicated fails the evaluation, naming both', async () => {
  const { result } = await healthyRun();
  const act = () => evaluateVerification(toResult(result), '0.17.0', bucket);
  expect(act).toThrow(VerificationError);
  expect(act).toThrow('agent version mismatch: expected 0.17.0, running 0.16.20 (quay.io/apheris/gateway-agent:0.16.20@sha256:');
});

test('failed connectivity tests: judged failed, their logs kept, credentials in them redacted, hostnames and tenant readable', async () => {
  const logs = `Checking connectivity to ${CANARY.domain}:443 ... FAILED\ntenant ${CANARY.tenant}\nclient secret used: ${CANARY.clientSecret}`;
  const { result, report } = await verifyRun(healthyCluster(), { HELM_STANDIN_TEST_PHASE: 'Failed', HELM_STANDIN_LOGS: logs });
  expect(result.exported).toMatchObject({ CONNECTIVITY: 'failed' });
  // What the operator needs to read the failure: the host it could not reach and the tenant (issue: "(redacted):443").
  expect(report.connectivity.logs).toContain(`Checking connectivity to ${CANARY.domain}:443 ... FAILED`);
  expect(report.connectivity.logs).toContain(`tenant ${CANARY.tenant}`);
  expect(report.connectivity.logs).toContain('client secret used: (redacted)');
  expect(report.connectivity.logs).not.toContain(CANARY.clientSecret);
  expect(() => evaluateVerification(toResult(result), '0.16.20', bucket)).toThrow(/the connectivity tests did not pass: connectivity test pod Failed/);
});

test('a test pod left by an earlier run does not fail the new one', async () => {
  const state = healthyCluster();
  state.pods = [...(state.pods ?? []), testPod({ phase: 'Failed' })];
  const { result, standin } = await verifyRun(state);
  expect(result.exported.CONNECTIVITY).toBe('passed');
  // The list showed it, so it was deleted before `helm test` made the new one.
  expect(standin.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual(['/api/v1/namespaces/apheris/pods/apheris-gateway-connectivity-test']);
});
