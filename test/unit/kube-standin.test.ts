import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  agentDeployment,
  jobPod,
  kubectlEnv,
  node,
  parseSelector,
  startKubeStandin,
  testPod,
  type KubeState,
  type KubeconfigOptions,
} from '../support/kube-standin';
import { cleanups, HELM_STANDIN_DIR, runCleanups, standinHarness } from '../support/kube-standin-harness';
import { awsCli, runTool } from '../support/local-tools';

/**
 * The real kubectl (and `aws eks get-token`) against the in-process kube stand-in, and the helm stand-in.
 * Child processes run asynchronously (execFile), since the stand-in answers from this process's event loop.
 */

const TEST_POD = 'apheris-gateway-connectivity-test';

const run = runTool;

afterEach(runCleanups);

const harness = (initial: Partial<KubeState> = {}, config?: KubeconfigOptions, extraEnv?: NodeJS.ProcessEnv) => standinHarness(initial, { config, extraEnv });

const gatewayState = (): Partial<KubeState> => ({
  deployments: [
    agentDeployment({ image: 'quay.io/apheris/gateway-agent:0.16.20' }),
    agentDeployment({ name: 'apheris-gateway-dal', labels: { 'apheris-component': 'dal' } }),
    agentDeployment({ name: 'apheris-gateway-agent', namespace: 'other', image: 'quay.io/apheris/gateway-agent:0.1.0' }),
  ],
  pods: [
    jobPod({ name: 'job-b', jobId: 'j-2', memoryRequest: '8Gi', cpuRequest: '2' }),
    jobPod({ name: 'job-a', jobId: 'j-1' }),
    jobPod({ name: 'job-elsewhere', jobId: 'j-9', namespace: 'other' }),
    testPod({ phase: 'Succeeded' }),
  ],
  nodes: [node({ name: 'ip-10-0-1-1.eu-central-1.compute.internal', allocatableMemory: '15Gi', capacityMemory: '16Gi' })],
  logs: { [TEST_POD]: 'auth0 ... OK\nquay.io ... OK\n' },
});

describe('kube stand-in with the real kubectl', () => {
  test('agent deployments by label, as the seed\'s version check runs it; every request carries the token', async () => {
    const h = await harness(gatewayState());
    const r = await h.kubectl('get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris', '-o', 'json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const list = JSON.parse(r.stdout);
    expect(list.items.map((d: { metadata: { name: string } }) => d.metadata.name)).toEqual(['apheris-gateway-agent']);
    expect(list.items[0].spec.template.spec.containers[0].image).toBe('quay.io/apheris/gateway-agent:0.16.20');
    expect(list.items[0].status).toMatchObject({ replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1, observedGeneration: 1 });

    const jsonpath = await h.kubectl(
      'get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris',
      '-o=jsonpath={.items[*].spec.template.spec.containers[0].image}',
    );
    expect(jsonpath.stdout).toBe('quay.io/apheris/gateway-agent:0.16.20');

    const paths = h.kube.requests.map((q) => q.path);
    expect(paths).toEqual(expect.arrayContaining(['/api', '/apis', '/api/v1', '/apis/apps/v1', '/apis/apps/v1/namespaces/apheris/deployments']));
    expect(h.kube.requests.find((q) => q.path === '/apis/apps/v1/namespaces/apheris/deployments')?.query).toContain('labelSelector=apheris-component%3Dagent');
    expect(h.kube.requests.every((q) => q.authorization === 'Bearer test-token')).toBe(true);
    expect(h.kube.unhandled).toEqual([]);
  });

  test('Deployments, pods and nodes in one call, as Verify reads them: one List, each item with its kind; nodes cluster-wide', async () => {
    const h = await harness(gatewayState());
    const r = await h.kubectl('get', 'deployments,pods,nodes', '-n', 'apheris', '-o', 'json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const list = JSON.parse(r.stdout);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List' });
    // In the order asked for; namespace apheris only (the agent and job of `other` are left out); the node despite -n.
    expect(list.items.map((i: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }) => [i.apiVersion, i.kind, i.metadata.namespace ?? '', i.metadata.name])).toEqual([
      ['apps/v1', 'Deployment', 'apheris', 'apheris-gateway-agent'],
      ['apps/v1', 'Deployment', 'apheris', 'apheris-gateway-dal'],
      ['v1', 'Pod', 'apheris', TEST_POD],
      ['v1', 'Pod', 'apheris', 'job-a'],
      ['v1', 'Pod', 'apheris', 'job-b'],
      ['v1', 'Node', '', 'ip-10-0-1-1.eu-central-1.compute.internal'],
    ]);
    // The items are the objects a list of one kind gives: labels, image, requests, allocatable memory.
    expect(list.items[0].metadata.labels).toMatchObject({ 'apheris-component': 'agent' });
    expect(list.items[0].spec.template.spec.containers[0].image).toBe('quay.io/apheris/gateway-agent:0.16.20');
    expect(list.items[4].spec.containers[0].resources.requests.memory).toBe('8Gi');
    expect(list.items[5].status.allocatable.memory).toBe('15Gi');
    // One request per kind, each carrying the token.
    const reads = h.kube.requests.filter((q) => /\/(deployments|pods|nodes)$/.test(q.path));
    expect(reads.map((q) => q.path)).toEqual(['/apis/apps/v1/namespaces/apheris/deployments', '/api/v1/namespaces/apheris/pods', '/api/v1/nodes']);
    expect(h.kube.requests.every((q) => q.authorization === 'Bearer test-token')).toBe(true);
    expect(h.kube.unhandled).toEqual([]);
  });

  test('human-readable output gets a Table', async () => {
    const h = await harness(gatewayState());
    const r = await h.kubectl('get', 'deployment', '-l', 'apheris-component=agent', '-n', 'apheris');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
    expect(r.stdout.split('\n')[1]).toMatch(/^apheris-gateway-agent\s+1\/1\s+1\s+1\s+\S+$/);
  });

  test('one deployment by name; a missing one is kubectl\'s NotFound error', async () => {
    const h = await harness(gatewayState());
    const found = await h.kubectl('get', 'deployment', 'apheris-gateway-agent', '-n', 'apheris', '-o', 'json');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toMatchObject({ kind: 'Deployment', metadata: { name: 'apheris-gateway-agent', namespace: 'apheris', generation: 1 } });

    h.kube.state.deployments.splice(0, h.kube.state.deployments.length);
    const missing = await h.kubectl('get', 'deployment', 'apheris-gateway-agent', '-n', 'apheris', '-o', 'json');
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trim()).toBe('Error from server (NotFound): deployments.apps "apheris-gateway-agent" not found');
    expect(h.kube.unhandled).toEqual([]);
  });

  test('computation pods by label existence, equality, negation and AND', async () => {
    const h = await harness(gatewayState());
    const names = async (selector: string) => {
      const r = await h.kubectl('get', 'pods', '-n', 'apheris', '-l', selector, '-o', 'json');
      expect(r.code).toBe(0);
      const list = JSON.parse(r.stdout);
      return list.items.map((p: { metadata: { name: string } }) => p.metadata.name);
    };
    expect(await names('apheris_job_id')).toEqual(['job-a', 'job-b']); // API order: by name; other namespace excluded
    expect(await names('apheris_job_id=j-2')).toEqual(['job-b']);
    expect(await names('apheris_job_id,apheris_job_id!=j-2')).toEqual(['job-a']);
    expect(await names('!apheris_job_id')).toEqual([TEST_POD]);

    const r = await h.kubectl('get', 'po', '-n', 'apheris', '-l', 'apheris_job_id', '-o', 'jsonpath={.items[*].spec.containers[*].resources.requests.memory}');
    expect(r.stdout).toBe('4Gi 8Gi');
  });

  test('selector parser', () => {
    expect(parseSelector('a=b, c , !d,e!=f,g in (x, y),h notin (z)')).toEqual([
      { key: 'a', op: 'eq', value: 'b' },
      { key: 'c', op: 'exists' },
      { key: 'd', op: 'notexists' },
      { key: 'e', op: 'neq', value: 'f' },
      { key: 'g', op: 'in', values: ['x', 'y'] },
      { key: 'h', op: 'notin', values: ['z'] },
    ]);
    expect(parseSelector('')).toEqual([]);
  });

  test('one pod by name, its logs, and NotFound for a missing pod', async () => {
    const h = await harness(gatewayState());
    const pod = await h.kubectl('get', 'pod', TEST_POD, '-n', 'apheris', '-o', 'json');
    expect(pod.code).toBe(0);
    expect(JSON.parse(pod.stdout)).toMatchObject({ kind: 'Pod', metadata: { name: TEST_POD }, status: { phase: 'Succeeded' } });

    const logs = await h.kubectl('logs', TEST_POD, '-n', 'apheris');
    expect(logs).toEqual({ code: 0, stdout: 'auth0 ... OK\nquay.io ... OK\n', stderr: '' });

    const missingPod = await h.kubectl('get', 'pod', 'nope', '-n', 'apheris', '-o', 'json');
    expect(missingPod.code).not.toBe(0);
    expect(missingPod.stderr).toContain('Error from server (NotFound): pods "nope" not found');
    const missingLogs = await h.kubectl('logs', 'nope', '-n', 'apheris');
    expect(missingLogs.code).not.toBe(0);
    expect(missingLogs.stderr).toContain('pods "nope" not found');
  });

  test('delete --ignore-not-found: silent when absent, removes the pod and its logs when present', async () => {
    const h = await harness(gatewayState());
    const absent = await h.kubectl('delete', 'pod', 'nope', '-n', 'apheris', '--ignore-not-found');
    expect(absent).toEqual({ code: 0, stdout: '', stderr: '' });

    const present = await h.kubectl('delete', 'pod', TEST_POD, '-n', 'apheris', '--ignore-not-found', '--wait=true');
    expect(present).toEqual({ code: 0, stdout: `pod "${TEST_POD}" deleted\n`, stderr: '' });
    expect(h.kube.state.pods.map((p) => p.metadata.name)).not.toContain(TEST_POD);
    expect(h.kube.state.logs[TEST_POD]).toBeUndefined();

    const noWait = await h.kubectl('delete', 'pod', 'job-a', '-n', 'apheris', '--ignore-not-found', '--wait=false');
    expect(noWait.code).toBe(0);
    expect(h.kube.requests.filter((q) => q.method === 'DELETE').map((q) => q.path)).toEqual([
      '/api/v1/namespaces/apheris/pods/nope',
      `/api/v1/namespaces/apheris/pods/${TEST_POD}`,
      '/api/v1/namespaces/apheris/pods/job-a',
    ]);
    expect(h.kube.unhandled).toEqual([]);
  });

  test('watches see state changes (kubectl wait)', async () => {
    const h = await harness({ pods: [testPod({ phase: 'Running' })] });
    setTimeout(() => {
      h.kube.state.pods[0].status.phase = 'Succeeded';
    }, 300);
    const r = await h.kubectl('wait', '--for=jsonpath={.status.phase}=Succeeded', `pod/${TEST_POD}`, '-n', 'apheris', '--timeout=5s');
    expect(r).toMatchObject({ code: 0, stdout: `pod/${TEST_POD} condition met\n` });
  });

  test('nodes', async () => {
    const h = await harness(gatewayState());
    const r = await h.kubectl('get', 'nodes', '-o', 'json');
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout);
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({
      kind: 'Node',
      status: { allocatable: { memory: '15Gi', cpu: '4' }, capacity: { memory: '16Gi' } },
    });
  });

  test('exec credential plugin: aws eks get-token presigns offline and its token arrives as the bearer', async () => {
    const h = await harness(
      gatewayState(),
      { exec: { command: awsCli(), args: ['eks', 'get-token', '--cluster-name', 'gw', '--region', 'eu-central-1'] } },
      {
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_SESSION_TOKEN: 'testing',
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    );
    const r = await h.kubectl('get', 'nodes', '-o', 'json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const auth = h.kube.requests.map((q) => q.authorization);
    expect(auth.length).toBeGreaterThan(0);
    for (const a of auth) expect(a).toMatch(/^Bearer k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const presigned = Buffer.from(auth[0]!.slice('Bearer k8s-aws-v1.'.length), 'base64url').toString('utf8');
    expect(presigned).toMatch(/^https:\/\/sts\.eu-central-1\.amazonaws\.com\/\?Action=GetCallerIdentity&/);
    expect(presigned).toContain('X-Amz-SignedHeaders=host%3Bx-k8s-aws-id');
  }, 30_000);

  test('plain http (tls: false) works but kubectl then sends no credentials', async () => {
    const kube = await startKubeStandin({ nodes: [node({ name: 'n1' })] }, { tls: false });
    cleanups.push(() => kube.stop());
    const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'kube-standin-test-')));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(kube.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    kube.writeKubeconfig(path.join(dir, 'kubeconfig'), { token: 'ignored-over-http' });
    const r = await run('kubectl', ['get', 'nodes', '-o', 'name'], kubectlEnv(dir, path.join(dir, 'kubeconfig')));
    expect(r).toEqual({ code: 0, stdout: 'node/n1\n', stderr: '' });
    expect(kube.requests.every((q) => q.authorization === undefined)).toBe(true);
  });
});

describe('helm stand-in', () => {
  function helmEnv(dir: string, vars: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: `${HELM_STANDIN_DIR}${path.delimiter}${process.env.PATH}`, HOME: dir, ...vars };
  }
  function tempDir(): string {
    const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'helm-standin-test-')));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  const helm = (env: NodeJS.ProcessEnv, ...args: string[]) => run('helm', args, env);

  const ANSIC = '[A-Z][a-z]{2} [A-Z][a-z]{2} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4}';
  const statusBlock = (phase: string) =>
    new RegExp(
      `^NAME: apheris-gateway\\nLAST DEPLOYED: ${ANSIC}\\nNAMESPACE: apheris\\nSTATUS: deployed\\nREVISION: 1\\n` +
        `TEST SUITE:     ${TEST_POD}\\nLast Started:   ${ANSIC}\\nLast Completed: ${ANSIC}\\nPhase:          ${phase}\\n`,
    );

  test('version', async () => {
    const env = helmEnv(tempDir());
    expect((await helm(env, 'version', '--short')).stdout).toBe('v3.17.3+ge4da497\n');
    expect((await helm(env, 'version', '--template', '{{.Version}}')).stdout).toBe('v3.17.3');
    expect((await helm({ ...env, HELM_STANDIN_VERSION: 'v3.12.0' }, 'version', '--template={{.Version}}')).stdout).toBe('v3.12.0');
  });

  test('helm test: Succeeded, with and without --logs', async () => {
    const dir = tempDir();
    const calls = path.join(dir, 'calls.jsonl');
    const env = helmEnv(dir, { HELM_STANDIN_LOGS: 'endpoint checks passed', HELM_STANDIN_CALLS: calls });
    const plain = await helm(env, 'test', 'apheris-gateway', '-n', 'apheris', '--timeout', '5m');
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe('');
    expect(plain.stdout).toMatch(new RegExp(`${statusBlock('Succeeded').source}$`));

    const withLogs = await helm(env, 'test', 'apheris-gateway', '--namespace=apheris', '--logs');
    expect(withLogs.code).toBe(0);
    expect(withLogs.stdout).toMatch(new RegExp(`${statusBlock('Succeeded').source}\\nPOD LOGS: ${TEST_POD}\\nendpoint checks passed\\n$`));
    expect(readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      ['test', 'apheris-gateway', '-n', 'apheris', '--timeout', '5m'],
      ['test', 'apheris-gateway', '--namespace=apheris', '--logs'],
    ]);
  });

  test('helm test: Failed prints the status and logs, then helm\'s error, exit 1; the exit code can be overridden', async () => {
    const env = helmEnv(tempDir(), { HELM_STANDIN_TEST_PHASE: 'Failed', HELM_STANDIN_LOGS: 'quay.io ... FAILED' });
    const failed = await helm(env, 'test', 'apheris-gateway', '-n', 'apheris', '--logs');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(new RegExp(`${statusBlock('Failed').source}\\nPOD LOGS: ${TEST_POD}\\nquay.io ... FAILED\\n$`));
    expect(failed.stderr).toBe(`Error: 1 error occurred:\n\t* pod ${TEST_POD} failed\n\n\n`);

    const raced = await helm({ ...env, HELM_STANDIN_EXIT: '0' }, 'test', 'apheris-gateway', '-n', 'apheris');
    expect(raced.code).toBe(0);
    expect(raced.stdout).toMatch(statusBlock('Failed'));

    const succeededButNonZero = await helm(helmEnv(tempDir(), { HELM_STANDIN_EXIT: '1' }), 'test', 'apheris-gateway', '-n', 'apheris');
    expect(succeededButNonZero.code).toBe(1);
    expect(succeededButNonZero.stdout).toMatch(statusBlock('Succeeded'));
  });

  test('with the kube stand-in: the test pod appears for kubectl; a leftover pod makes the next run fail', async () => {
    const h = await harness({ deployments: [agentDeployment()] });
    const env = helmEnv(h.dir, { HELM_STANDIN_KUBE_URL: h.kube.url, HELM_STANDIN_LOGS: 'all endpoints reachable\n' });

    const first = await helm(env, 'test', 'apheris-gateway', '-n', 'apheris', '--logs');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`POD LOGS: ${TEST_POD}\nall endpoints reachable\n\n`);

    const pod = await h.kubectl('get', 'pod', TEST_POD, '-n', 'apheris', '-o', 'json');
    expect(JSON.parse(pod.stdout)).toMatchObject({ metadata: { name: TEST_POD, namespace: 'apheris' }, status: { phase: 'Succeeded' } });
    expect(await h.kubectl('logs', TEST_POD, '-n', 'apheris')).toMatchObject({ code: 0, stdout: 'all endpoints reachable\n' });

    const second = await helm({ ...env, HELM_STANDIN_LOGS: 'new run' }, 'test', 'apheris-gateway', '-n', 'apheris', '--logs');
    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(statusBlock('Failed'));
    expect(second.stdout).toContain(`POD LOGS: ${TEST_POD}\nall endpoints reachable\n`); // the old pod's logs
    expect(second.stderr).toMatch(new RegExp(`^Error: warning: Hook test \\S+ failed: 1 error occurred:\\n\\t\\* pods "${TEST_POD}" already exists\\n`));

    await h.kubectl('delete', 'pod', TEST_POD, '-n', 'apheris', '--ignore-not-found');
    const third = await helm({ ...env, HELM_STANDIN_TEST_PHASE: 'Failed' }, 'test', 'apheris-gateway', '-n', 'apheris');
    expect(third.code).toBe(1);
    expect(third.stderr).toBe(`Error: 1 error occurred:\n\t* pod ${TEST_POD} failed\n\n\n`);
    expect(JSON.parse((await h.kubectl('get', 'pod', TEST_POD, '-n', 'apheris', '-o', 'json')).stdout).status.phase).toBe('Failed');
    expect(h.kube.unhandled).toEqual([]);
    // The stand-in's own traffic stays out of `requests`: everything recorded came from kubectl, with its token.
    expect(h.kube.requests.every((q) => q.authorization === 'Bearer test-token')).toBe(true);
  });

  test('usage errors', async () => {
    const env = helmEnv(tempDir());
    expect(await helm(env, 'test')).toMatchObject({ code: 1, stderr: expect.stringContaining('"helm test" requires 1 argument') });
    expect(await helm({ ...env, HELM_STANDIN_RELEASE_MISSING: '1' }, 'test', 'x')).toMatchObject({ code: 1, stderr: 'Error: release: not found\n' });
    expect(await helm(env, 'upgrade', 'x')).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown command "upgrade"') });
  });
});
