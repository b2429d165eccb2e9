import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  agentDeployment,
  decodeHelmRelease,
  helmReleaseSecret,
  type KubeState,
} from '../support/kube-standin';
import { HELM_STANDIN_DIR, runCleanups, standinHarness } from '../support/kube-standin-harness';
import { runTool, type ToolRun } from '../support/local-tools';

/**
 * Secrets in the kube stand-in (Helm's release storage) with the real kubectl, labels and annotations on its
 * deployments, and the helm stand-in's release commands (install, uninstall, status, list) against it.
 * Child processes run asynchronously (execFile), since the stand-in answers from this process's event loop.
 */

const RELEASE_SECRET = 'sh.helm.release.v1.apheris-gateway.v1';

type Run = ToolRun;
const run = runTool;

afterEach(runCleanups);

const harness = (initial: Partial<KubeState> = {}) => standinHarness(initial, { dirPrefix: 'kube-standin-releases-' });

const names = (r: Run) => (JSON.parse(r.stdout).items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name);

describe('kube stand-in: secrets', () => {
  test('a seeded release secret: listed by label selector, got by name, with Helm\'s type, labels and data', async () => {
    const h = await harness({ secrets: [helmReleaseSecret(), helmReleaseSecret({ release: 'monitoring' }), helmReleaseSecret({ namespace: 'other' })] });
    const list = await h.kubectl('get', 'secrets', '-n', 'apheris', '-l', 'owner=helm,name=apheris-gateway', '-o', 'json');
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(names(list)).toEqual([RELEASE_SECRET]);
    const item = JSON.parse(list.stdout).items[0];
    expect(item).toMatchObject({
      kind: 'Secret',
      type: 'helm.sh/release.v1',
      metadata: { namespace: 'apheris', labels: { owner: 'helm', name: 'apheris-gateway', status: 'deployed', version: '1' } },
    });
    expect(decodeHelmRelease(item)).toMatchObject({ name: 'apheris-gateway', version: 1, info: { status: 'deployed' }, chart: { metadata: { name: 'gateway-agent', version: '0.16.20' } } });

    expect(names(await h.kubectl('get', 'secrets', '-n', 'apheris', '-l', 'owner=helm', '-o', 'json'))).toEqual([
      RELEASE_SECRET,
      'sh.helm.release.v1.monitoring.v1',
    ]);
    expect(names(await h.kubectl('get', 'secrets', '-A', '-l', 'name=apheris-gateway', '-o', 'json'))).toEqual([RELEASE_SECRET, RELEASE_SECRET]);

    const one = await h.kubectl('get', 'secret', RELEASE_SECRET, '-n', 'apheris', '-o', 'json');
    expect(JSON.parse(one.stdout).metadata.name).toBe(RELEASE_SECRET);
    const missing = await h.kubectl('get', 'secret', 'nope', '-n', 'apheris', '-o', 'json');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe('Error from server (NotFound): secrets "nope" not found');
    expect(h.kube.requests.find((q) => q.path === '/api/v1/namespaces/apheris/secrets')?.query).toContain('labelSelector=owner%3Dhelm%2Cname%3Dapheris-gateway');
    expect(h.kube.unhandled).toEqual([]);
  });

  test('human-readable output: NAME TYPE DATA AGE', async () => {
    const h = await harness({ secrets: [helmReleaseSecret()] });
    const r = await h.kubectl('get', 'secrets', '-n', 'apheris');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE$/);
    expect(r.stdout.split('\n')[1]).toMatch(new RegExp(`^${RELEASE_SECRET.replace(/\./g, '\\.')}\\s+helm\\.sh/release\\.v1\\s+1\\s+\\S+$`));
  });

  test('metadata only, one JSON line per secret, with jsonpath: the data never leaves kubectl', async () => {
    const seeded = helmReleaseSecret({ values: { token: 'canary-value-1234' } });
    const h = await harness({ secrets: [seeded] });
    const r = await h.kubectl('get', 'secrets', '-n', 'apheris', '-l', 'owner=helm', '-o', 'jsonpath={range .items[*]}{.metadata}{"\\n"}{end}');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ name: RELEASE_SECRET, labels: expect.objectContaining({ owner: 'helm' }) })]);
    expect(r.stdout).not.toContain((seeded.data as { release: string }).release);
    expect(r.stdout).not.toContain('"data"');
  });

  test('create with kubectl -f (201), again (AlreadyExists), delete, and delete of a missing one', async () => {
    const h = await harness();
    // `kubectl create secret generic` sends protobuf, which the stand-in answers 415 (not emulated); -f sends JSON (and --validate=false: no OpenAPI here).
    const file = path.join(h.dir, 'secret.json');
    writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'extra', namespace: 'apheris' }, data: { a: 'Yg==' } }));
    const created = await h.kubectl('create', '--validate=false', '-f', file);
    expect(created).toMatchObject({ stderr: '', code: 0, stdout: 'secret/extra created\n' });
    expect(h.kube.state.secrets.map((s) => [s.metadata.name, s.metadata.namespace, s.data])).toEqual([['extra', 'apheris', { a: 'Yg==' }]]);
    const again = await h.kubectl('create', '--validate=false', '-f', file);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim()).toBe('Error from server (AlreadyExists): error when creating "' + file + '": secrets "extra" already exists');
    const protobuf = await h.kubectl('create', 'secret', 'generic', 'other', '-n', 'apheris', '--from-literal=a=b');
    expect(protobuf.code).not.toBe(0);

    expect(await h.kubectl('delete', 'secret', 'extra', '-n', 'apheris')).toMatchObject({ code: 0, stdout: 'secret "extra" deleted\n' });
    expect(h.kube.state.secrets).toEqual([]);
    const missing = await h.kubectl('delete', 'secret', 'extra', '-n', 'apheris');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim()).toBe('Error from server (NotFound): secrets "extra" not found');
    expect(h.kube.unhandled).toEqual([]);
  });

  test('a namespace holding only secrets exists for kubectl', async () => {
    const h = await harness({ secrets: [helmReleaseSecret({ namespace: 'flux-apps' })], namespaces: ['default'] });
    const r = await h.kubectl('get', 'namespaces', '-o', 'name');
    expect(r.stdout).toContain('namespace/flux-apps');
  });

  test('the existing kinds are unchanged: no secrets in `get all`', async () => {
    const h = await harness({ deployments: [agentDeployment()], secrets: [helmReleaseSecret()] });
    const r = await h.kubectl('get', 'all', '-n', 'apheris', '-o', 'name');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('deployment.apps/apheris-gateway-agent\n');
  });
});

describe('kube stand-in: labels and annotations on deployments', () => {
  test('extra labels and annotations join the defaults; the label query of the seed still finds the agent', async () => {
    const d = agentDeployment({
      extraLabels: { 'helm.toolkit.fluxcd.io/name': 'apheris-gateway', 'helm.toolkit.fluxcd.io/namespace': 'flux-system' },
      annotations: { 'argocd.argoproj.io/tracking-id': 'gw:apps/Deployment:apheris/apheris-gateway-agent' },
    });
    expect(d.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'Helm',
      'apheris-component': 'agent',
      'helm.toolkit.fluxcd.io/name': 'apheris-gateway',
      'helm.toolkit.fluxcd.io/namespace': 'flux-system',
    });
    expect(d.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': 'apheris-gateway', 'argocd.argoproj.io/tracking-id': 'gw:apps/Deployment:apheris/apheris-gateway-agent' });
    expect(d.spec.template.metadata.labels).not.toHaveProperty('helm.toolkit.fluxcd.io/name');

    const h = await harness({ deployments: [d] });
    expect(names(await h.kubectl('get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris', '-o', 'json'))).toEqual(['apheris-gateway-agent']);
    expect(names(await h.kubectl('get', 'deployment', '-l', 'helm.toolkit.fluxcd.io/name', '-n', 'apheris', '-o', 'json'))).toEqual(['apheris-gateway-agent']);
    const r = await h.kubectl('get', 'deployment', 'apheris-gateway-agent', '-n', 'apheris', '-o', 'jsonpath={.metadata.annotations.argocd\\.argoproj\\.io/tracking-id}');
    expect(r.stdout).toBe('gw:apps/Deployment:apheris/apheris-gateway-agent');
  });

  test('without the new options the deployment is as before', () => {
    const d = agentDeployment();
    expect(d.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'Helm', 'apheris-component': 'agent' });
    expect(d.metadata.annotations).toEqual({
      'deployment.kubernetes.io/revision': '1',
      'meta.helm.sh/release-name': 'apheris-gateway',
      'meta.helm.sh/release-namespace': 'apheris',
    });
  });
});

describe('helmReleaseSecret', () => {
  test('named and labelled as Helm 3 stores revision N; the values are inside the encoded data only', () => {
    const s = helmReleaseSecret({ revision: 3, status: 'superseded', chartVersion: '1.2.3', values: { secret: 'canary-7' } });
    expect(s.metadata).toMatchObject({ name: 'sh.helm.release.v1.apheris-gateway.v3', namespace: 'apheris', labels: { owner: 'helm', name: 'apheris-gateway', status: 'superseded', version: '3' } });
    expect(JSON.stringify(s)).not.toContain('canary-7');
    expect(decodeHelmRelease(s)).toMatchObject({ version: 3, config: { secret: 'canary-7' }, chart: { metadata: { version: '1.2.3' } }, info: { status: 'superseded' } });
  });
});

describe('helm stand-in: install, uninstall, status, list', () => {
  test('install creates revision 1 as Helm stores it; a second install fails with Helm\'s error, exit 1', async () => {
    const h = await harness();
    const first = await h.helm('install', 'apheris-gateway', 'oci://registry.example.invalid/charts/gateway-agent', '--namespace', 'apheris', '--version', '0.16.21', '--set', 'agent.token=canary-9,replicas=2');
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^NAME: apheris-gateway\nLAST DEPLOYED: .+\nNAMESPACE: apheris\nSTATUS: deployed\nREVISION: 1\n/);
    expect(h.kube.state.secrets).toHaveLength(1);
    const secret = h.kube.state.secrets[0];
    expect(secret).toMatchObject({ type: 'helm.sh/release.v1', metadata: { name: RELEASE_SECRET, namespace: 'apheris', labels: { owner: 'helm', name: 'apheris-gateway', status: 'deployed', version: '1' } } });
    expect(decodeHelmRelease(secret)).toMatchObject({
      name: 'apheris-gateway',
      namespace: 'apheris',
      version: 1,
      chart: { metadata: { name: 'gateway-agent', version: '0.16.21' } },
      config: { agent: { token: 'canary-9' }, replicas: 2 },
    });

    const second = await h.helm('install', 'apheris-gateway', 'oci://registry.example.invalid/charts/gateway-agent', '-n', 'apheris');
    expect(second).toEqual({ code: 1, stdout: '', stderr: 'Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n' });
    expect(h.kube.state.secrets).toHaveLength(1);
    // The same name in another namespace is another release.
    expect((await h.helm('install', 'apheris-gateway', 'charts/gateway-agent', '-n', 'staging')).code).toBe(0);
    expect(h.kube.unhandled).toEqual([]);
    // Helm's traffic goes through the stand-in's hooks, not among kubectl's requests.
    expect(h.kube.requests).toEqual([]);
  });

  test('any release secret of the name blocks install, whatever its status (helm 3 without --replace)', async () => {
    const h = await harness({ secrets: [helmReleaseSecret({ status: 'failed' })] });
    expect(await h.helm('install', 'apheris-gateway', 'charts/gateway-agent', '-n', 'apheris')).toMatchObject({ code: 1, stderr: 'Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n' });
  });

  test('a seeded release is what kubectl then sees, and what helm install trips over', async () => {
    const h = await harness({ secrets: [helmReleaseSecret()] });
    expect((await h.helm('install', 'apheris-gateway', 'charts/gateway-agent', '-n', 'apheris')).code).toBe(1);
    expect(names(await h.kubectl('get', 'secrets', '-n', 'apheris', '-l', 'owner=helm,name=apheris-gateway', '-o', 'json'))).toEqual([RELEASE_SECRET]);
  });

  test('uninstall deletes every revision; then kubectl finds none; a second uninstall fails with Helm\'s error', async () => {
    const h = await harness({
      secrets: [helmReleaseSecret({ revision: 1, status: 'superseded' }), helmReleaseSecret({ revision: 2 }), helmReleaseSecret({ release: 'monitoring' })],
    });
    const removed = await h.helm('uninstall', 'apheris-gateway', '-n', 'apheris', '--wait', '--timeout', '5m');
    expect(removed).toEqual({ code: 0, stdout: 'release "apheris-gateway" uninstalled\n', stderr: '' });
    expect(h.kube.state.secrets.map((s) => s.metadata.name)).toEqual(['sh.helm.release.v1.monitoring.v1']);
    expect(names(await h.kubectl('get', 'secrets', '-n', 'apheris', '-l', 'owner=helm,name=apheris-gateway', '-o', 'json'))).toEqual([]);

    const again = await h.helm('uninstall', 'apheris-gateway', '-n', 'apheris');
    expect(again).toEqual({ code: 1, stdout: '', stderr: 'Error: uninstall: Release not loaded: apheris-gateway: release: not found\n' });
    // Install works again once the name is free.
    expect((await h.helm('install', 'apheris-gateway', 'charts/gateway-agent', '-n', 'apheris')).code).toBe(0);
  });

  test('uninstall leaves the cluster\'s workloads alone (the stand-in\'s releases are bookkeeping only)', async () => {
    const h = await harness({ deployments: [agentDeployment()], secrets: [helmReleaseSecret()] });
    expect((await h.helm('uninstall', 'apheris-gateway', '-n', 'apheris')).code).toBe(0);
    expect(h.kube.state.deployments).toHaveLength(1);
  });

  test('status: the latest revision as a table or as helm\'s JSON; unknown release: not found', async () => {
    const h = await harness({ secrets: [helmReleaseSecret({ revision: 1, status: 'superseded' }), helmReleaseSecret({ revision: 2, chartVersion: '0.16.22' })] });
    const table = await h.helm('status', 'apheris-gateway', '-n', 'apheris');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME: apheris-gateway\nLAST DEPLOYED: .+\nNAMESPACE: apheris\nSTATUS: deployed\nREVISION: 2\n/);
    const json = await h.helm('status', 'apheris-gateway', '-n', 'apheris', '-o', 'json');
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'apheris-gateway', namespace: 'apheris', version: 2, info: { status: 'deployed' }, chart: { metadata: { version: '0.16.22' } } });
    expect(await h.helm('status', 'nope', '-n', 'apheris')).toMatchObject({ code: 1, stderr: 'Error: release: not found\n' });
  });

  test('list -o json: helm\'s fields for the latest revision, deployed and failed only unless -a; no values', async () => {
    const h = await harness({
      secrets: [
        helmReleaseSecret({ revision: 1, status: 'superseded', values: { token: 'canary-3' } }),
        helmReleaseSecret({ revision: 2, chartVersion: '0.16.22', appVersion: '0.16.22', values: { token: 'canary-3' } }),
        helmReleaseSecret({ release: 'pending', status: 'pending-install' }),
        helmReleaseSecret({ release: 'elsewhere', namespace: 'other' }),
      ],
    });
    const listed = await h.helm('list', '-n', 'apheris', '-o', 'json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { name: 'apheris-gateway', namespace: 'apheris', revision: '2', updated: expect.any(String), status: 'deployed', chart: 'gateway-agent-0.16.22', app_version: '0.16.22' },
    ]);
    expect(listed.stdout).not.toContain('canary-3');
    expect(JSON.parse((await h.helm('list', '-n', 'apheris', '-a', '-o', 'json')).stdout).map((e: { name: string }) => e.name)).toEqual(['apheris-gateway', 'pending']);
    expect(JSON.parse((await h.helm('list', '-n', 'apheris', '-a', '-o', 'json', '--filter', '^pend')).stdout).map((e: { name: string }) => e.name)).toEqual(['pending']);
    expect((await h.helm('list', '-n', 'apheris', '-q')).stdout).toBe('apheris-gateway\n');
    const table = await h.helm('list', '-n', 'apheris');
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+NAMESPACE\s+REVISION\s+UPDATED\s+STATUS\s+CHART\s+APP VERSION$/);
    expect(JSON.parse((await h.helm('list', '-n', 'empty', '-o', 'json')).stdout)).toEqual([]);
  });

  test('without the kube stand-in these commands cannot reach a cluster', async () => {
    const env = { PATH: `${HELM_STANDIN_DIR}${path.delimiter}${process.env.PATH}`, HOME: os.tmpdir() };
    for (const args of [['install', 'a', 'b'], ['uninstall', 'a'], ['status', 'a'], ['list']]) {
      const r = await run('helm', args, env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: Kubernetes cluster unreachable/);
    }
  });

  test('usage errors', async () => {
    const h = await harness();
    expect(await h.helm('install', 'only-a-name')).toMatchObject({ code: 1, stderr: expect.stringContaining('"helm install" requires at least 1 argument') });
    expect(await h.helm('uninstall')).toMatchObject({ code: 1, stderr: expect.stringContaining('"helm uninstall" requires at least 1 argument') });
    expect(await h.helm('status')).toMatchObject({ code: 1, stderr: expect.stringContaining('"helm status" requires 1 argument') });
  });
});
