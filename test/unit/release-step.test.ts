/**
 * The cluster actions of the Verify build (CLUSTER_ACTION inspect-release / uninstall-release) with fake kubectl,
 * helm and artifacts: which commands run, what is reported and exported, and that secret data never is.
 */
import {
  accessFromOutputs,
  clusterActionOf,
  inspectionExports,
  parseMetadataLines,
  refusalOf,
  releaseContextOf,
  runReleaseAction,
  s3BackendOf,
  stateFacts,
  type Artifacts,
  type ReleaseContext,
  type StateRead,
} from '../../buildspecs/helper/release-step';
import type { CommandResult } from '../../buildspecs/helper/run-command';
import type { VerifyContext } from '../../buildspecs/helper/verify-step';

const VERIFY_CTX: VerifyContext = {
  bucket: 'gw-artifacts',
  gateway: 'gw-prod',
  runId: 'run-42',
  region: 'eu-central-1',
  valuesSecretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:gw-prod/values-AbCdEf',
  workDir: '/tmp/gw-release-test',
  rolloutTimeoutSeconds: 5,
  pollSeconds: 0,
  helmTestTimeout: '10m',
};
const CTX: ReleaseContext = releaseContextOf(VERIFY_CTX, {});
const STATE_AT = 's3://gw-state/gateways/gw-prod/terraform.tfstate';
const SECRET_VALUE = 'values-canary-5e1f';

describe('clusterActionOf', () => {
  test('unset or empty: verify', () => {
    expect(clusterActionOf(undefined)).toBe('verify');
    expect(clusterActionOf('')).toBe('verify');
  });
  test.each(['verify', 'inspect-release', 'uninstall-release'])('%s', (action) => {
    expect(clusterActionOf(action)).toBe(action);
  });
  test('a typo is an error, not a verify', () => {
    expect(() => clusterActionOf('uninstall')).toThrow('CLUSTER_ACTION=uninstall is not one of verify, inspect-release, uninstall-release');
  });
});

describe('releaseContextOf', () => {
  test("the run's workspace prefix as RenderWorkspace writes it, the release of the seed, helm's default timeout", () => {
    expect(CTX).toMatchObject({ workspacePrefix: 'workspaces/gw-prod/run-42/', release: 'apheris-gateway', namespace: 'apheris', uninstallTimeout: '5m' });
  });
  test('WORKSPACE_PREFIX and HELM_UNINSTALL_TIMEOUT when the state machine passes them', () => {
    expect(releaseContextOf(VERIFY_CTX, { WORKSPACE_PREFIX: 'workspaces/x/y/', HELM_UNINSTALL_TIMEOUT: '10m' })).toMatchObject({ workspacePrefix: 'workspaces/x/y/', uninstallTimeout: '10m' });
  });
});

describe('s3BackendOf', () => {
  test('the rendered backend.tf.json', () => {
    const json = { terraform: { backend: { s3: { bucket: 'b', key: 'gateways/gw/terraform.tfstate', region: 'eu-west-1', encrypt: true } } } };
    expect(s3BackendOf(json)).toEqual({ bucket: 'b', key: 'gateways/gw/terraform.tfstate', region: 'eu-west-1' });
  });
  test('blocks written as arrays, and no region', () => {
    expect(s3BackendOf({ terraform: [{ backend: [{ s3: [{ bucket: 'b', key: 'k' }] }] }] })).toEqual({ bucket: 'b', key: 'k' });
  });
  test('no s3 backend, or one without bucket or key', () => {
    expect(s3BackendOf({ terraform: { backend: { local: { path: 'x' } } } })).toBeUndefined();
    expect(s3BackendOf({ terraform: { backend: { s3: { bucket: 'b' } } } })).toBeUndefined();
    expect(s3BackendOf({})).toBeUndefined();
    expect(s3BackendOf(null)).toBeUndefined();
  });
});

describe('stateFacts', () => {
  test('no state object: not found, no releases, no outputs', () => {
    expect(stateFacts(STATE_AT, undefined)).toEqual({ facts: { location: STATE_AT, found: false, helmReleases: [] }, outputs: {} });
  });
  test('a state: its helm_releases and root outputs; no attribute values beyond name and namespace', () => {
    const text = JSON.stringify({
      version: 4,
      outputs: { cluster_name: { value: 'gw-prod', type: 'string' }, other: { value: SECRET_VALUE } },
      resources: [{ mode: 'managed', type: 'helm_release', name: 'g', instances: [{ attributes: { name: 'apheris-gateway', namespace: 'apheris', values: [SECRET_VALUE] } }] }],
    });
    const read = stateFacts(STATE_AT, text);
    expect(read).toEqual({
      facts: { location: STATE_AT, found: true, helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] },
      outputs: { cluster_name: 'gw-prod' },
    });
    expect(JSON.stringify(read)).not.toContain(SECRET_VALUE);
  });
  test('not JSON: an error naming where, not the text', () => {
    expect(() => stateFacts(STATE_AT, `garbage ${SECRET_VALUE}`)).toThrow(`the Terraform state at ${STATE_AT} is not JSON`);
    try {
      stateFacts(STATE_AT, `garbage ${SECRET_VALUE}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET_VALUE);
    }
  });
});

describe('accessFromOutputs', () => {
  test('per output, the first source that has it wins', () => {
    const access = accessFromOutputs([
      { where: 'apply', outputs: {} },
      { where: 'plan', outputs: { endpoint: 'https://plan', certificate_authority_data: 'PLAN-CA' } },
      { where: 'state', outputs: { cluster_name: 'gw-prod', endpoint: 'https://state', certificate_authority_data: 'STATE-CA' } },
    ]);
    expect(access).toEqual({ clusterName: 'gw-prod', endpoint: 'https://plan', certificateAuthorityData: 'PLAN-CA' });
  });
  test('no CA anywhere: none', () => {
    expect(accessFromOutputs([{ where: 'x', outputs: { cluster_name: 'c', endpoint: 'e' } }])).toEqual({ clusterName: 'c', endpoint: 'e' });
  });
  test('a missing cluster_name or endpoint: an error saying which, and where it looked', () => {
    expect(() => accessFromOutputs([{ where: 'A', outputs: { endpoint: 'e' } }, { where: 'B', outputs: {} }])).toThrow('no cluster_name output for the cluster: looked in A, B');
    expect(() => accessFromOutputs([{ where: 'A', outputs: {} }])).toThrow('no cluster_name and endpoint output');
  });
});

describe('parseMetadataLines', () => {
  test('one JSON metadata object per line, blank lines skipped', () => {
    const text = '{"name":"a","namespace":"apheris","labels":{"x":"1"},"uid":"u"}\n\n{"name":"b","annotations":{"y":"2"}}\n';
    expect(parseMetadataLines('Secret', text)).toEqual([
      { kind: 'Secret', name: 'a', namespace: 'apheris', labels: { x: '1' } },
      { kind: 'Secret', name: 'b', annotations: { y: '2' } },
    ]);
    expect(parseMetadataLines('Secret', '')).toEqual([]);
  });
});

describe('refusalOf', () => {
  test('only unmanaged may be uninstalled', () => {
    expect(refusalOf('unmanaged')).toBeUndefined();
    expect(refusalOf('managed-by-flux')).toEqual({ failureClass: 'release-managed' });
    expect(refusalOf('managed-by-argocd')).toEqual({ failureClass: 'release-managed' });
    expect(refusalOf('managed-by-terraform')).toEqual({ failureClass: 'release-managed' });
    expect(refusalOf('absent')).toEqual({ failureClass: 'release-absent' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// runReleaseAction with fakes

interface FakeCluster {
  /** Release secrets' metadata, as kubectl's jsonpath prints it. */
  secrets: Array<Record<string, unknown>>;
  deployments: Array<Record<string, unknown>>;
  helmList: CommandResult;
  uninstall: CommandResult;
  /** What uninstall leaves behind (default: nothing). */
  afterUninstall?: Array<Record<string, unknown>>;
  kubectlFails?: boolean;
}

const releaseSecretMeta = (revision = 1, extraLabels: Record<string, string> = {}) => ({
  name: `sh.helm.release.v1.apheris-gateway.v${revision}`,
  namespace: 'apheris',
  labels: { owner: 'helm', name: 'apheris-gateway', status: 'deployed', version: String(revision), ...extraLabels },
});
const agentMeta = (labels: Record<string, string> = {}) => ({
  name: 'apheris-gateway-agent',
  namespace: 'apheris',
  labels: { 'apheris-component': 'agent', ...labels },
  annotations: { 'meta.helm.sh/release-name': 'apheris-gateway', 'meta.helm.sh/release-namespace': 'apheris', 'kubectl.kubernetes.io/last-applied-configuration': `{"env":"${SECRET_VALUE}"}` },
});
const HELM_LIST: CommandResult = {
  code: 0,
  output: '',
  rawStdout: JSON.stringify([{ name: 'apheris-gateway', namespace: 'apheris', revision: '1', updated: '2025-01-01 00:00:00 +0000 UTC', status: 'deployed', chart: 'gateway-agent-0.16.20', app_version: '0.16.20' }]),
};

function fakes(over: Partial<FakeCluster> = {}, objects: Record<string, string> = {}) {
  const cluster: FakeCluster = {
    secrets: [releaseSecretMeta()],
    deployments: [agentMeta()],
    helmList: HELM_LIST,
    uninstall: { code: 0, output: 'release "apheris-gateway" uninstalled', rawStdout: '' },
    ...over,
  };
  const calls: string[] = [];
  const stored = new Map<string, string>(Object.entries(objects));
  let uninstalled = false;
  const lines = (items: Array<Record<string, unknown>>): CommandResult => ({ code: 0, output: '', rawStdout: items.map((i) => `${JSON.stringify(i)}\n`).join('') });
  const kubectl = async (args: string[], opts?: { raw?: boolean }) => {
    calls.push(`kubectl ${args.join(' ')}${opts?.raw ? ' (raw)' : ''}`);
    if (cluster.kubectlFails) return { code: 1, output: 'error: You must be logged in to the server (Unauthorized)', rawStdout: '' };
    if (args[1] === 'secrets') return lines(uninstalled ? (cluster.afterUninstall ?? []) : cluster.secrets);
    if (args[1] === 'deployments') return lines(cluster.deployments);
    throw new Error(`unexpected kubectl ${args.join(' ')}`);
  };
  const helm = async (args: string[], opts?: { raw?: boolean }) => {
    calls.push(`helm ${args.join(' ')}${opts?.raw ? ' (raw)' : ''}`);
    if (args[0] === 'list') return cluster.helmList;
    if (args[0] === 'uninstall') {
      uninstalled = cluster.uninstall.code === 0;
      return cluster.uninstall;
    }
    throw new Error(`unexpected helm ${args.join(' ')}`);
  };
  const artifacts: Artifacts = {
    get: async (key) => stored.get(key),
    put: async (key, body) => {
      stored.set(key, body);
    },
  };
  const connected: unknown[] = [];
  return { calls, stored, artifacts, connect: async (access: unknown) => (connected.push(access), { kubectl, helm }), connected };
}

beforeEach(() => {
  // The helper prints the finding and any refusal to the build log; not to the test output.
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

const PLAN_OUTPUTS = { 'plans/gw-prod/run-42/outputs.json': JSON.stringify({ outputs: { cluster_name: 'gw-prod', endpoint: 'https://EKS.example', certificate_authority_data: 'CA' } }) };
const noState = async (): Promise<StateRead> => stateFacts(STATE_AT, undefined);
const withState = (facts: Partial<StateRead['facts']>, outputs: Record<string, unknown> = {}) => async (): Promise<StateRead> => ({
  facts: { location: STATE_AT, found: true, helmReleases: [], ...facts },
  outputs,
});

describe('runReleaseAction: inspect-release', () => {
  test('reads metadata only (jsonpath), decides, reports and exports; exit 0', async () => {
    const f = fakes({}, PLAN_OUTPUTS);
    const result = await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [SECRET_VALUE], now: () => new Date('2025-06-01T00:00:00Z') });
    expect(result.code).toBe(0);
    expect(f.calls).toEqual([
      'kubectl get secrets -n apheris -l owner=helm,name=apheris-gateway -o jsonpath={range .items[*]}{.metadata}{"\\n"}{end} (raw)',
      'kubectl get deployments -n apheris -o jsonpath={range .items[*]}{.metadata}{"\\n"}{end} (raw)',
      'helm list -n apheris -a -o json --filter ^apheris-gateway$ (raw)',
    ]);
    expect(f.connected).toEqual([{ clusterName: 'gw-prod', endpoint: 'https://EKS.example', certificateAuthorityData: 'CA' }]);
    expect(result.exports).toEqual({
      STEP_STATUS: 'succeeded',
      RELEASE_FINDING: 'unmanaged',
      RELEASE_DETAIL: expect.stringContaining('helm uninstall apheris-gateway -n apheris'),
      RELEASE_REPORT_KEY: 'reports/gw-prod/run-42/release-inspection.json',
    });
    const report = JSON.parse(f.stored.get('reports/gw-prod/run-42/release-inspection.json')!);
    expect(report).toMatchObject({
      gateway: 'gw-prod',
      runId: 'run-42',
      action: 'inspect-release',
      inspectedAt: '2025-06-01T00:00:00.000Z',
      cluster: { name: 'gw-prod', endpoint: 'https://EKS.example' },
      finding: 'unmanaged',
      evidence: { revisions: [{ revision: 1, status: 'deployed' }], terraform: { location: STATE_AT, found: false } },
      helm: { listed: { chart: 'gateway-agent-0.16.20', app_version: '0.16.20', status: 'deployed' } },
    });
    expect(report.uninstall).toBeUndefined();
    expect(f.stored.get('reports/gw-prod/run-42/release-inspection.json')).not.toContain(SECRET_VALUE);
  });

  test('Flux labels: managed-by-flux, still exit 0 (the state machine decides)', async () => {
    const f = fakes({ deployments: [agentMeta({ 'helm.toolkit.fluxcd.io/name': 'gw', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' })] }, PLAN_OUTPUTS);
    const result = await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(0);
    expect(result.exports.RELEASE_FINDING).toBe('managed-by-flux');
  });

  test('the state holds the release: managed-by-terraform', async () => {
    const f = fakes({}, PLAN_OUTPUTS);
    const readState = withState({ helmReleases: [{ address: 'module.gateway.helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] });
    expect((await runReleaseAction('inspect-release', CTX, { ...f, readState, secrets: [] })).exports.RELEASE_FINDING).toBe('managed-by-terraform');
  });

  test('no release secret: absent', async () => {
    const f = fakes({ secrets: [] }, PLAN_OUTPUTS);
    expect((await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] })).exports.RELEASE_FINDING).toBe('absent');
  });

  test('after a failed first apply: endpoint from the Plan, cluster_name from the state', async () => {
    const f = fakes({}, { 'plans/gw-prod/run-42/outputs.json': JSON.stringify({ outputs: { endpoint: 'https://EKS.example' } }) });
    await runReleaseAction('inspect-release', CTX, { ...f, readState: withState({}, { cluster_name: 'gw-prod', endpoint: 'https://other' }), secrets: [] });
    expect(f.connected).toEqual([{ clusterName: 'gw-prod', endpoint: 'https://EKS.example' }]);
  });

  test('the Apply report wins over the Plan outputs', async () => {
    const f = fakes({}, { ...PLAN_OUTPUTS, 'reports/gw-prod/run-42/apply.json': JSON.stringify({ outputs: { cluster_name: 'gw-prod', endpoint: 'https://APPLIED' } }) });
    await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(f.connected).toEqual([{ clusterName: 'gw-prod', endpoint: 'https://APPLIED', certificateAuthorityData: 'CA' }]);
  });

  test('no outputs anywhere: an error naming every place, before any cluster call', async () => {
    const f = fakes();
    await expect(runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] })).rejects.toThrow(
      `no cluster_name and endpoint output for the cluster: looked in s3://gw-artifacts/reports/gw-prod/run-42/apply.json (absent), s3://gw-artifacts/plans/gw-prod/run-42/outputs.json (absent), the Terraform state ${STATE_AT} (absent)`,
    );
    expect(f.calls).toEqual([]);
  });

  test('kubectl cannot read the secrets: an error (no finding can be made), nothing reported', async () => {
    const f = fakes({ kubectlFails: true }, PLAN_OUTPUTS);
    await expect(runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] })).rejects.toThrow(/kubectl get secrets .* failed: error: You must be logged in/);
    expect([...f.stored.keys()]).toEqual(Object.keys(PLAN_OUTPUTS));
  });

  test('helm list failing only leaves the chart out of the report', async () => {
    const f = fakes({ helmList: { code: 1, output: 'Error: Kubernetes cluster unreachable', rawStdout: '' } }, PLAN_OUTPUTS);
    const result = await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(0);
    expect(result.report.helm).toEqual({ listed: null, error: 'helm list failed: Error: Kubernetes cluster unreachable' });
  });

  test('a secret value that reaches the report anyway is redacted', async () => {
    const f = fakes({ secrets: [releaseSecretMeta(1, { note: SECRET_VALUE })], deployments: [agentMeta({ 'helm.toolkit.fluxcd.io/name': SECRET_VALUE })] }, PLAN_OUTPUTS);
    await runReleaseAction('inspect-release', CTX, { ...f, readState: noState, secrets: [SECRET_VALUE] });
    const text = f.stored.get('reports/gw-prod/run-42/release-inspection.json')!;
    expect(text).not.toContain(SECRET_VALUE);
    expect(text).toContain('(redacted)');
  });
});

describe('runReleaseAction: uninstall-release', () => {
  test('unmanaged: inspects again, then helm uninstall --wait; checks the secrets are gone; exports RELEASE_UNINSTALLED', async () => {
    const f = fakes({}, PLAN_OUTPUTS);
    const result = await runReleaseAction('uninstall-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(0);
    expect(f.calls.filter((c) => c.startsWith('helm uninstall'))).toEqual(['helm uninstall apheris-gateway -n apheris --wait --timeout 5m']);
    expect(f.calls.filter((c) => c.startsWith('kubectl get secrets'))).toHaveLength(2);
    expect(result.exports).toEqual({
      STEP_STATUS: 'succeeded',
      RELEASE_FINDING: 'unmanaged',
      RELEASE_DETAIL: expect.any(String),
      RELEASE_REPORT_KEY: 'reports/gw-prod/run-42/release-uninstall.json',
      RELEASE_UNINSTALLED: 'true',
    });
    expect(JSON.parse(f.stored.get('reports/gw-prod/run-42/release-uninstall.json')!)).toMatchObject({
      action: 'uninstall-release',
      finding: 'unmanaged',
      uninstall: { performed: true, command: 'helm uninstall apheris-gateway -n apheris --wait --timeout 5m', exitCode: 0, remaining: [] },
    });
  });

  test.each<[string, Partial<FakeCluster>, string]>([
    ['managed-by-flux', { deployments: [agentMeta({ 'helm.toolkit.fluxcd.io/name': 'gw' })] }, 'release-managed'],
    ['managed-by-argocd', { deployments: [agentMeta({ 'argocd.argoproj.io/instance': 'gw' })] }, 'release-managed'],
    ['absent', { secrets: [] }, 'release-absent'],
  ])('%s: refused, exit 1, no helm uninstall', async (finding, cluster, failureClass) => {
    const f = fakes(cluster, PLAN_OUTPUTS);
    const result = await runReleaseAction('uninstall-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(1);
    expect(f.calls.some((c) => c.startsWith('helm uninstall'))).toBe(false);
    expect(result.exports).toMatchObject({
      STEP_STATUS: 'failed',
      FAILURE_CLASS: failureClass,
      FAILURE_MESSAGE: expect.stringMatching(new RegExp(`^refused to uninstall apheris-gateway: the release is ${finding}: `)),
      RELEASE_FINDING: finding,
      RELEASE_UNINSTALLED: 'false',
      RELEASE_REPORT_KEY: 'reports/gw-prod/run-42/release-uninstall.json',
    });
    expect(result.exports.FAILURE_MESSAGE.length).toBeLessThanOrEqual(500);
    expect(JSON.parse(f.stored.get('reports/gw-prod/run-42/release-uninstall.json')!).uninstall).toMatchObject({ performed: false, refused: expect.stringContaining(finding) });
  });

  test('managed-by-terraform: refused', async () => {
    const f = fakes({}, PLAN_OUTPUTS);
    const readState = withState({ helmReleases: [{ address: 'helm_release.g', name: 'apheris-gateway', namespace: 'apheris' }] });
    const result = await runReleaseAction('uninstall-release', CTX, { ...f, readState, secrets: [] });
    expect(result).toMatchObject({ code: 1, exports: { FAILURE_CLASS: 'release-managed', RELEASE_FINDING: 'managed-by-terraform' } });
  });

  test('helm uninstall fails: exit 1, its error in the message, RELEASE_UNINSTALLED=false', async () => {
    const f = fakes({ uninstall: { code: 1, output: 'Error: uninstall: Release not loaded: apheris-gateway: release: not found', rawStdout: '' } }, PLAN_OUTPUTS);
    const result = await runReleaseAction('uninstall-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(1);
    expect(result.exports).toMatchObject({
      STEP_STATUS: 'failed',
      FAILURE_CLASS: 'release-uninstall-failed',
      FAILURE_MESSAGE: expect.stringContaining('helm uninstall exited 1: Error: uninstall: Release not loaded'),
      RELEASE_UNINSTALLED: 'false',
    });
  });

  test('helm says uninstalled but release secrets remain: not uninstalled', async () => {
    const f = fakes({ afterUninstall: [releaseSecretMeta(2)] }, PLAN_OUTPUTS);
    const result = await runReleaseAction('uninstall-release', CTX, { ...f, readState: noState, secrets: [] });
    expect(result.code).toBe(1);
    expect(result.exports.FAILURE_MESSAGE).toContain('release secrets remain: sh.helm.release.v1.apheris-gateway.v2');
  });
});

describe('inspectionExports', () => {
  test('a long detail is shortened for the export; the report keeps it whole', () => {
    const detail = `${'x'.repeat(600)}.`;
    const exports = inspectionExports({ finding: 'unmanaged', detail } as never, 'k');
    expect(exports.RELEASE_DETAIL).toHaveLength(500);
    expect(exports.RELEASE_DETAIL.endsWith('…')).toBe(true);
  });
});
