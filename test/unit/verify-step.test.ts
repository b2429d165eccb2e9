/**
 * The Verify build's helper with fake kubectl and helm: the one list of Deployments, pods and nodes, the seed's
 * agent check (by label, then by the likely name), the rollout poll, `helm test` after removing a leftover test
 * pod, the test logs, the capacity data, and the EKS token the helper caches for kubectl's credential plugin.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mintEksToken, urlOfToken } from '../../buildspecs/helper/eks-token';
import { printToken } from '../../buildspecs/helper/kube-token';
import { kubeconfig, seedToken, verificationExports, verify, type ClusterAccess, type VerifyContext } from '../../buildspecs/helper/verify-step';
import type { CommandResult } from '../../buildspecs/helper/run-command';
import type { DeploymentLike, NodeLike, PodLike } from '../../lambdas/shared/domain/verification';

const GI = 2 ** 30;
const IMAGE = 'quay.io/apheris/gateway-agent:0.16.20';
const ACCESS: ClusterAccess = {
  clusterName: 'apheris-gateway',
  endpoint: 'https://ABCDEF0123456789.gr7.eu-central-1.eks.amazonaws.com',
  certificateAuthorityData: 'LS0tLS1CRUdJTi==',
};
const CTX: VerifyContext = {
  bucket: 'gw-artifacts',
  gateway: 'gw-prod',
  runId: 'run-42',
  region: 'eu-central-1',
  valuesSecretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:gw-prod/values-AbCdEf',
  workDir: '/tmp/gw-verify-test',
  rolloutTimeoutSeconds: 5,
  pollSeconds: 0,
  helmTestTimeout: '10m',
};

/** The helper's own `token` command, as the Verify build passes it. */
const TOKEN = { command: '/usr/bin/node', args: ['/src/verify-step.js', 'token'] };

const PEM = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBdzCCAR2gAwIBAgIUXk0sAmPlEcErTiFiCaTeFoRtEsTiNgMAoGCCqGSM49BAMC',
  '-----END CERTIFICATE-----',
  '',
].join('\n');

describe('kubeconfig', () => {
  test('credentials from the exec plugin (the token the helper cached, else `aws eks get-token`), one cluster, context in the apheris namespace', () => {
    const config = kubeconfig({ ...ACCESS, certificateAuthorityData: PEM }, 'eu-central-1', TOKEN) as any;
    expect(config).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': 'apheris-gateway' });
    expect(config.users).toEqual([
      {
        name: 'gateway-deployer',
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: '/usr/bin/node',
            args: ['/src/verify-step.js', 'token', '--cluster-name', 'apheris-gateway', '--region', 'eu-central-1'],
            interactiveMode: 'Never',
          },
        },
      },
    ]);
    expect(config.contexts).toEqual([{ name: 'apheris-gateway', context: { cluster: 'apheris-gateway', user: 'gateway-deployer', namespace: 'apheris' } }]);
    expect(config.clusters).toHaveLength(1);
    expect(config.clusters[0].name).toBe('apheris-gateway');
    expect(config.clusters[0].cluster.server).toBe(ACCESS.endpoint);
  });

  test('a PEM CA (as the module outputs it) becomes base64 certificate-authority-data', () => {
    const config = kubeconfig({ ...ACCESS, certificateAuthorityData: PEM }, 'eu-central-1', TOKEN) as any;
    const data = config.clusters[0].cluster['certificate-authority-data'];
    expect(data).toBe(Buffer.from(PEM).toString('base64'));
    expect(Buffer.from(data, 'base64').toString('utf-8')).toBe(PEM);
  });

  test('an already base64 CA is passed through', () => {
    const base64 = Buffer.from(PEM).toString('base64');
    const config = kubeconfig({ ...ACCESS, certificateAuthorityData: base64 }, 'eu-central-1', TOKEN) as any;
    expect(config.clusters[0].cluster['certificate-authority-data']).toBe(base64);
  });

  test('no CA, or an http endpoint: no certificate-authority-data', () => {
    const { certificateAuthorityData: _ca, ...withoutCa } = ACCESS;
    expect((kubeconfig(withoutCa, 'eu-central-1', TOKEN) as any).clusters[0].cluster).toEqual({ server: ACCESS.endpoint });
    const http = kubeconfig({ ...ACCESS, endpoint: 'http://127.0.0.1:8080', certificateAuthorityData: PEM }, 'eu-central-1', TOKEN) as any;
    expect(http.clusters[0].cluster).toEqual({ server: 'http://127.0.0.1:8080' });
  });
});

const AGENT_LABELS = { 'apheris-component': 'agent' };
const agent = (
  name: string,
  over: { ready?: number; updated?: number; generation?: number; observed?: number; image?: string; labels?: Record<string, string> } = {},
): DeploymentLike => ({
  metadata: { name, generation: over.generation ?? 2, labels: over.labels ?? AGENT_LABELS },
  spec: { replicas: 2, template: { spec: { containers: [{ image: over.image ?? IMAGE }] } } },
  status: { replicas: 2, readyReplicas: over.ready ?? 2, updatedReplicas: over.updated ?? 2, observedGeneration: over.observed ?? 2 },
});
const testPod = (phase: string): PodLike => ({ metadata: { name: 'apheris-gateway-connectivity-test' }, status: { phase } });
const jobPod = (name: string, ...memory: string[]): PodLike => ({
  metadata: { name, labels: { apheris_job_id: name } },
  spec: { containers: memory.map((m) => ({ resources: { requests: { memory: m } } })) },
  status: { phase: 'Running' },
});
const otherPod = (name: string): PodLike => ({ metadata: { name, labels: { app: 'dal' } }, spec: { containers: [{ resources: { requests: { memory: '8Gi' } } }] }, status: { phase: 'Running' } });
const node = (name: string, memory: string): NodeLike => ({ metadata: { name }, status: { allocatable: { memory } } });

const HELM_STATUS = [
  'NAME: apheris-gateway',
  'LAST DEPLOYED: Mon Jun  3 10:00:00 2024',
  'NAMESPACE: apheris',
  'STATUS: deployed',
  'REVISION: 4',
  'TEST SUITE:     apheris-gateway-connectivity-test',
  'Last Started:   Mon Jun  3 10:05:00 2024',
  'Last Completed: Mon Jun  3 10:05:30 2024',
].join('\n');
const helmOutput = (phase: string, logs?: string) =>
  `${HELM_STATUS}\nPhase:          ${phase}${logs === undefined ? '' : `\n\nPOD LOGS: apheris-gateway-connectivity-test\n${logs}`}`;

interface Cluster {
  /** The Deployments of namespace apheris, or 'fail' for a non-zero exit. */
  deployments: DeploymentLike[] | 'fail';
  /** Successive answers to `get deployment <name>`; the last one repeats; missing name → NotFound. */
  byName: Record<string, DeploymentLike[]>;
  helm: { code: number; output: string };
  /** The pods of namespace apheris before `helm test` (a test pod left by an earlier run among them), or 'fail'. */
  pods: PodLike[] | 'fail';
  /** `get pod apheris-gateway-connectivity-test` after `helm test`. */
  testPod: PodLike | null;
  podLogs: string;
  nodes: NodeLike[] | 'fail';
}

type Call = { tool: 'kubectl' | 'helm'; args: string[]; opts?: { raw?: boolean; echo?: boolean } };

function fakeTools(over: Partial<Cluster> = {}) {
  const cluster: Cluster = {
    deployments: [agent('apheris-gateway-agent')],
    byName: { 'apheris-gateway-agent': [agent('apheris-gateway-agent')] },
    helm: { code: 0, output: helmOutput('Succeeded', 'connectivity test passed: api.apheris.com reachable') },
    pods: [jobPod('job-a', '4Gi'), jobPod('job-b', '3Gi', '1Gi'), otherPod('apheris-gateway-dal-0')],
    testPod: testPod('Succeeded'),
    podLogs: 'logs from kubectl logs',
    nodes: [node('n1', '16Gi')],
    ...over,
  };
  const calls: Call[] = [];
  const json = (value: unknown): CommandResult => ({ code: 0, output: '', rawStdout: JSON.stringify(value) });
  const failed = (message: string): CommandResult => ({ code: 1, output: message, rawStdout: '' });
  const notFound = (what: string): CommandResult => failed(`Error from server (NotFound): ${what} not found`);
  const list = (items: unknown[]) => json({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } });
  const byNameCalls: Record<string, number> = {};
  const kinded = <T>(kind: string, apiVersion: string, items: T[]) => items.map((i) => ({ apiVersion, kind, ...i }));

  const kubectl = async (args: string[], opts?: { raw?: boolean; echo?: boolean }): Promise<CommandResult> => {
    calls.push({ tool: 'kubectl', args, opts });
    const [verb, kind, name] = args;
    if (verb === 'get' && kind === 'deployments,pods,nodes') {
      // As kubectl: one kind failing fails the command (what it did list is not used).
      if (cluster.deployments === 'fail') return failed('Error from server (Forbidden): deployments.apps is forbidden');
      if (cluster.pods === 'fail') return failed('Error from server (Forbidden): pods is forbidden');
      if (cluster.nodes === 'fail') return failed('Error from server (Forbidden): nodes is forbidden: User cannot list resource "nodes" at the cluster scope');
      return list([...kinded('Deployment', 'apps/v1', cluster.deployments), ...kinded('Pod', 'v1', cluster.pods), ...kinded('Node', 'v1', cluster.nodes)]);
    }
    if (verb === 'get' && kind === 'deployments') return cluster.deployments === 'fail' ? failed('error: You must be logged in to the server (Unauthorized)') : list(cluster.deployments);
    if (verb === 'get' && kind === 'pods') return cluster.pods === 'fail' ? failed('forbidden') : list(cluster.pods);
    if (verb === 'get' && kind === 'nodes') return cluster.nodes === 'fail' ? failed('forbidden') : list(cluster.nodes);
    if (verb === 'get' && kind === 'deployment') {
      const answers = cluster.byName[name];
      if (!answers) return notFound(`deployments.apps "${name}"`);
      const i = Math.min(byNameCalls[name] ?? 0, answers.length - 1);
      byNameCalls[name] = (byNameCalls[name] ?? 0) + 1;
      return json(answers[i]);
    }
    if (verb === 'delete' && kind === 'pod') return { code: 0, output: '', rawStdout: '' };
    if (verb === 'get' && kind === 'pod') return cluster.testPod ? json(cluster.testPod) : notFound(`pods "${name}"`);
    if (verb === 'logs') return { code: 0, output: cluster.podLogs, rawStdout: '' };
    throw new Error(`unexpected kubectl ${args.join(' ')}`);
  };
  const helm = async (args: string[], opts?: { raw?: boolean; echo?: boolean }): Promise<CommandResult> => {
    calls.push({ tool: 'helm', args, opts });
    return { code: cluster.helm.code, output: cluster.helm.output, rawStdout: '' };
  };
  const line = (c: Call) => `${c.tool} ${c.args.join(' ')}`;
  return { kubectl, helm, calls, lines: () => calls.map(line) };
}

const CLUSTER_QUERY = 'kubectl get deployments,pods,nodes -n apheris -o json';
const BY_NAME = 'kubectl get deployment apheris-gateway-agent -n apheris -o json';
const DELETE_TEST_POD = 'kubectl delete pod apheris-gateway-connectivity-test -n apheris --ignore-not-found --wait=true';
const HELM_TEST = 'helm test apheris-gateway -n apheris --timeout 10m --logs';
const GET_TEST_POD = 'kubectl get pod apheris-gateway-connectivity-test -n apheris -o json';
const SEPARATE_QUERIES = ['kubectl get deployments -n apheris -o json', 'kubectl get pods -n apheris -o json', 'kubectl get nodes -o json'];

describe('verify: the kubectl calls of a healthy run', () => {
  test('one list of Deployments, pods and nodes, then helm test: nothing else', async () => {
    const tools = fakeTools();
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    // No leftover test pod to delete; helm printed the phase and the logs: the pod is not read again.
    expect(tools.lines()).toEqual([CLUSTER_QUERY, HELM_TEST]);
    // JSON is read raw, never echoed through the redacting printer.
    expect(tools.calls[0].opts).toEqual({ raw: true });
    expect(report.agent.found).toBe(true);
    expect(report.connectivity.result).toBe('passed');
    expect(report.capacity?.computations).toBe(2);
  });
});

describe('verify: finding the agent', () => {
  test('the label finds exactly one Deployment: found by label, image and rollout from it', async () => {
    const tools = fakeTools({ deployments: [agent('apheris-gateway-dal', { labels: { 'apheris-component': 'dal' } }), agent('apheris-gateway-agent')] });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent).toEqual({
      found: true,
      foundBy: 'found by label apheris-component=agent',
      deployment: 'apheris-gateway-agent',
      image: { image: IMAGE, repository: 'quay.io/apheris/gateway-agent', tag: '0.16.20', digest: null },
      rollout: { ready: true, desired: 2, readyReplicas: 2, updatedReplicas: 2, detail: '2/2 replicas ready, 2/2 updated' },
    });
    expect(tools.lines()[0]).toBe(CLUSTER_QUERY);
    expect(tools.lines()).not.toContain(BY_NAME);
    expect(report).toMatchObject({ gateway: 'gw-prod', runId: 'run-42', cluster: { name: 'apheris-gateway', endpoint: ACCESS.endpoint } });
    expect(Number.isNaN(Date.parse(report.checkedAt))).toBe(false);
  });

  test('the label on another Deployment than the usual name: that one is the agent', async () => {
    const tools = fakeTools({ deployments: [agent('gw-agent-custom', { image: 'quay.io/apheris/gateway-agent:0.16.22' }), agent('apheris-gateway-agent', { labels: {} })] });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent).toMatchObject({ deployment: 'gw-agent-custom', foundBy: 'found by label apheris-component=agent', image: { tag: '0.16.22' } });
  });

  test('two labelled Deployments: falls back to the name apheris-gateway-agent, from the same list', async () => {
    const tools = fakeTools({
      deployments: [agent('apheris-gateway-agent-old'), agent('apheris-gateway-agent', { image: 'quay.io/apheris/gateway-agent:0.16.21' })],
    });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent.found).toBe(true);
    expect(report.agent.deployment).toBe('apheris-gateway-agent');
    expect(report.agent.image?.tag).toBe('0.16.21');
    expect(report.agent.foundBy).toBe(
      '2 Deployments have the label apheris-component=agent (apheris-gateway-agent-old, apheris-gateway-agent); found by name apheris-gateway-agent',
    );
    expect(tools.lines()).not.toContain(BY_NAME);
  });

  test('no label, the name: found by name', async () => {
    const tools = fakeTools({ deployments: [agent('apheris-gateway-agent', { labels: { app: 'gateway' } })] });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent).toMatchObject({ found: true, foundBy: 'no Deployment has the label apheris-component=agent; found by name apheris-gateway-agent' });
  });

  test('the Deployments cannot be listed: the message says so, and the name is asked for on its own', async () => {
    const tools = fakeTools({ deployments: 'fail' });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent.found).toBe(true);
    expect(report.agent.foundBy).toBe(
      'the Deployments in apheris could not be listed, so the label apheris-component=agent was not checked; found by name apheris-gateway-agent',
    );
    expect(tools.lines().slice(0, 5)).toEqual([CLUSTER_QUERY, ...SEPARATE_QUERIES, BY_NAME]);
    // Pods and nodes still listed on their own: capacity stands.
    expect(report.capacity?.computations).toBe(2);
  });

  test('no labelled Deployment and none by name: not found, no rollout, and the exports say why', async () => {
    const tools = fakeTools({ deployments: [agent('apheris-gateway-dal', { labels: { 'apheris-component': 'dal' } })], byName: {} });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent).toEqual({
      found: false,
      foundBy: 'no Deployment has the label apheris-component=agent; no Deployment named apheris-gateway-agent either',
      deployment: null,
      image: null,
      rollout: null,
    });
    // No rollout polling.
    expect(tools.lines()).not.toContain(BY_NAME);
    const exports = verificationExports(report, 'reports/gw-prod/run-42/verification.json');
    expect(exports).toMatchObject({ AGENT_FOUND: 'false', AGENT_DEPLOYMENT: '', AGENT_IMAGE: '', AGENT_VERSION: '', ROLLOUT_READY: 'false', ROLLOUT_DETAIL: report.agent.foundBy });
  });
});

describe('verify: the rollout', () => {
  test('not ready at first, ready on a later poll: ready', async () => {
    const name = 'apheris-gateway-agent';
    const tools = fakeTools({
      deployments: [agent(name, { generation: 3, observed: 2 })],
      byName: { [name]: [agent(name, { generation: 3, observed: 3, ready: 1, updated: 1 }), agent(name, { generation: 3, observed: 3 })] },
    });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent.rollout).toMatchObject({ ready: true, detail: '2/2 replicas ready, 2/2 updated' });
    expect(tools.lines().filter((l) => l === BY_NAME)).toHaveLength(2);
    // Having waited, the pods and nodes are listed again before `helm test`.
    expect(tools.lines()).toEqual([CLUSTER_QUERY, BY_NAME, BY_NAME, CLUSTER_QUERY, HELM_TEST]);
  });

  test('after a wait, the fresh list counts: a test pod and computations that appeared meanwhile', async () => {
    const name = 'apheris-gateway-agent';
    const tools = fakeTools({ deployments: [agent(name, { ready: 1 })], byName: { [name]: [agent(name)] } });
    let lists = 0;
    const kubectl: typeof tools.kubectl = async (args, opts) => {
      const result = await tools.kubectl(args, opts);
      if (args[1] !== 'deployments,pods,nodes' || (lists += 1) === 1) return result;
      const list = JSON.parse(result.rawStdout);
      list.items.push({ kind: 'Pod', ...testPod('Failed') }, { kind: 'Pod', ...jobPod('job-c', '4Gi') });
      return { ...result, rawStdout: JSON.stringify(list) };
    };
    const report = await verify(CTX, kubectl, tools.helm, ACCESS);
    expect(lists).toBe(2);
    expect(tools.lines()).toContain(DELETE_TEST_POD);
    expect(report.capacity?.computations).toBe(3);
  });

  test('still not ready at the deadline: reported as not ready, with the last state', async () => {
    const name = 'apheris-gateway-agent';
    const stuck = agent(name, { ready: 1, updated: 2 });
    const tools = fakeTools({ deployments: [stuck], byName: { [name]: [stuck] } });
    const report = await verify({ ...CTX, rolloutTimeoutSeconds: 0.05 }, tools.kubectl, tools.helm, ACCESS);
    expect(report.agent.rollout).toMatchObject({ ready: false, detail: '1/2 replicas ready, 2/2 updated' });
    expect(verificationExports(report, 'k')).toMatchObject({ ROLLOUT_READY: 'false', ROLLOUT_DETAIL: '1/2 replicas ready, 2/2 updated' });
  });

  test('a poll that fails keeps the last known state and polls again', async () => {
    const name = 'apheris-gateway-agent';
    const tools = fakeTools({ deployments: [agent(name, { ready: 0 })] });
    let polls = 0;
    const kubectl: typeof tools.kubectl = async (args, opts) => {
      if (args.join(' ') === BY_NAME.replace('kubectl ', '') && (polls += 1) === 1) return { code: 1, output: 'connection refused', rawStdout: '' };
      return tools.kubectl(args, opts);
    };
    const report = await verify(CTX, kubectl, tools.helm, ACCESS);
    expect(polls).toBe(2);
    expect(report.agent.rollout?.ready).toBe(true);
  });
});

describe('verify: the connectivity tests', () => {
  test('a test pod left by an earlier run (in the list) is deleted BEFORE helm test', async () => {
    const tools = fakeTools({ pods: [jobPod('job-a', '4Gi'), testPod('Failed')] });
    await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    const lines = tools.lines();
    const del = lines.indexOf(DELETE_TEST_POD);
    expect(del).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(HELM_TEST)).toBe(del + 1);
    expect(lines.filter((l) => l.startsWith('helm '))).toHaveLength(1);
  });

  test('no test pod in the list: nothing to delete', async () => {
    const tools = fakeTools();
    await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).not.toContain(DELETE_TEST_POD);
  });

  test('the pods cannot be listed: the delete runs anyway (--ignore-not-found), and there is no capacity', async () => {
    const tools = fakeTools({ pods: 'fail' });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).toContain(DELETE_TEST_POD);
    expect(tools.lines().indexOf(HELM_TEST)).toBe(tools.lines().indexOf(DELETE_TEST_POD) + 1);
    expect(report.capacity).toBeNull();
    expect(report.agent.found).toBe(true);
  });

  test('the helm test timeout comes from the context', async () => {
    const tools = fakeTools();
    await verify({ ...CTX, helmTestTimeout: '3m' }, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).toContain('helm test apheris-gateway -n apheris --timeout 3m --logs');
  });

  test('logs from helm\'s "POD LOGS:" section; neither kubectl logs nor the pod is needed', async () => {
    const tools = fakeTools({ testPod: null });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.connectivity.logs).toBe('POD LOGS: apheris-gateway-connectivity-test\nconnectivity test passed: api.apheris.com reachable');
    expect(tools.lines().some((l) => l.startsWith('kubectl logs'))).toBe(false);
    expect(tools.lines()).not.toContain(GET_TEST_POD);
    expect(report.connectivity).toEqual({ result: 'passed', phase: 'Succeeded', detail: 'connectivity test pod Succeeded', logs: report.connectivity.logs });
  });

  test('helm printed Failed: judged failed from it, without reading the pod', async () => {
    const tools = fakeTools({ helm: { code: 1, output: helmOutput('Failed', 'auth0: timeout') }, testPod: null });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).not.toContain(GET_TEST_POD);
    expect(report.connectivity).toMatchObject({ result: 'failed', phase: 'Failed', detail: 'connectivity test pod Failed (helm exited 1)' });
  });

  test('a phase but no "POD LOGS:" in helm output: the logs come from kubectl logs, the pod is not read', async () => {
    const tools = fakeTools({ helm: { code: 1, output: `${helmOutput('Failed')}\nError: pod apheris-gateway-connectivity-test failed` }, testPod: testPod('Failed'), podLogs: 'auth0: timeout' });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).toContain('kubectl logs apheris-gateway-connectivity-test -n apheris');
    expect(tools.lines()).not.toContain(GET_TEST_POD);
    expect(report.connectivity).toEqual({ result: 'failed', phase: 'Failed', detail: 'connectivity test pod Failed (helm exited 1)', logs: 'auth0: timeout' });
  });

  test('no phase in helm output: the pod is read, and its phase wins over helm\'s exit code', async () => {
    const tools = fakeTools({ helm: { code: 1, output: 'Error: unable to get pod logs' }, testPod: testPod('Succeeded') });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).toContain(GET_TEST_POD);
    expect(tools.lines().indexOf(GET_TEST_POD)).toBeGreaterThan(tools.lines().indexOf(HELM_TEST));
    expect(report.connectivity).toMatchObject({ result: 'passed', detail: 'connectivity test pod Succeeded (helm exited 1, but the test pod succeeded)' });
    expect(report.connectivity.logs).toBe('logs from kubectl logs');
  });

  test('helm printed a phase that is not final (Running): the pod is read, and its phase counts', async () => {
    const tools = fakeTools({ helm: { code: 0, output: helmOutput('Running') }, testPod: testPod('Failed') });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines()).toContain(GET_TEST_POD);
    expect(report.connectivity).toMatchObject({ result: 'failed', phase: 'Failed' });
  });

  test('pod gone and no phase in helm output: failed, no logs', async () => {
    const tools = fakeTools({ helm: { code: 1, output: 'Error: release: not found' }, testPod: null });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.connectivity).toEqual({ result: 'failed', phase: null, detail: 'no test phase found: helm exited 1 and the test pod is gone', logs: '' });
    expect(tools.lines().some((l) => l.startsWith('kubectl logs'))).toBe(false);
  });

  test('long logs keep their last 20 000 characters', async () => {
    const tools = fakeTools({ helm: { code: 0, output: helmOutput('Succeeded', `${'x'.repeat(30_000)}END`) } });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(report.connectivity.logs).toHaveLength(20_000);
    expect(report.connectivity.logs.endsWith('END')).toBe(true);
  });
});

describe('verify: capacity', () => {
  test('from the computation pods (label apheris_job_id) and the nodes of the one list', async () => {
    const tools = fakeTools();
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines().filter((l) => l.startsWith('kubectl get'))).toEqual([CLUSTER_QUERY]);
    expect(report.capacity).toMatchObject({
      computations: 2,
      requests: [
        { pod: 'job-a', memory: '4Gi', bytes: 4 * GI },
        { pod: 'job-b', memory: '4Gi', bytes: 4 * GI },
      ],
      mostCommonRequest: { memory: '4Gi', bytes: 4 * GI, pods: 2 },
      nodes: [{ node: 'n1', allocatableMemory: '16Gi', bytes: 16 * GI, fits: 4 }],
      utilisation: 0.5,
      recommendation: null,
    });
  });

  test('nodes forbidden: the list fails as a whole, each kind is listed on its own; no capacity, the rest of the report stands', async () => {
    const tools = fakeTools({ nodes: 'fail' });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(tools.lines().slice(0, 4)).toEqual([CLUSTER_QUERY, ...SEPARATE_QUERIES]);
    expect(report.capacity).toBeNull();
    expect(report.agent).toMatchObject({ found: true, foundBy: 'found by label apheris-component=agent' });
    expect(report.connectivity.result).toBe('passed');
  });

  test('either query failing: no capacity, the rest of the report stands', async () => {
    for (const over of [{ pods: 'fail' as const }, { nodes: 'fail' as const }]) {
      const tools = fakeTools(over);
      const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
      expect(report.capacity).toBeNull();
      expect(report.agent.found).toBe(true);
    }
  });
});

describe('verificationExports', () => {
  test('maps the report onto the variables EvaluateVerification reads', async () => {
    const digest = 'sha256:4bf6a2d1c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2';
    const tools = fakeTools({ deployments: [agent('apheris-gateway-agent', { image: `${IMAGE}@${digest}` })] });
    const report = await verify(CTX, tools.kubectl, tools.helm, ACCESS);
    expect(verificationExports(report, 'reports/gw-prod/run-42/verification.json')).toEqual({
      STEP_STATUS: 'succeeded',
      VERIFICATION_REPORT_KEY: 'reports/gw-prod/run-42/verification.json',
      AGENT_FOUND: 'true',
      AGENT_DEPLOYMENT: 'apheris-gateway-agent',
      AGENT_IMAGE: `${IMAGE}@${digest}`,
      AGENT_VERSION: '0.16.20',
      AGENT_DIGEST: digest,
      ROLLOUT_READY: 'true',
      ROLLOUT_DETAIL: '2/2 replicas ready, 2/2 updated',
      CONNECTIVITY: 'passed',
      CONNECTIVITY_DETAIL: 'connectivity test pod Succeeded',
    });
  });

  test('a failed connectivity test is exported as failed with its detail', async () => {
    const tools = fakeTools({ testPod: testPod('Failed'), helm: { code: 1, output: helmOutput('Failed', 'x') } });
    const exports = verificationExports(await verify(CTX, tools.kubectl, tools.helm, ACCESS), 'k');
    expect(exports).toMatchObject({ CONNECTIVITY: 'failed', CONNECTIVITY_DETAIL: 'connectivity test pod Failed (helm exited 1)' });
  });
});

describe('printToken (the exec credential plugin)', () => {
  const credential = (expires: string) => ({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', spec: {}, status: { expirationTimestamp: expires, token: 'k8s-aws-v1.cached' } });

  async function withCache(cached: object | null, run: (file: string, written: string[]) => Promise<void>): Promise<void> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'token-'));
    const file = path.join(dir, 'token.json');
    if (cached) await fs.promises.writeFile(file, JSON.stringify(cached));
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await run(file, written);
    } finally {
      spy.mockRestore();
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  /** Runs with PATH pointing at an empty folder: any attempt to start the AWS CLI fails. */
  async function withoutCli<T>(run: () => Promise<T>): Promise<T> {
    const empty = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'no-cli-'));
    const saved = process.env.PATH;
    process.env.PATH = empty;
    try {
      return await run();
    } finally {
      process.env.PATH = saved;
      await fs.promises.rm(empty, { recursive: true, force: true });
    }
  }

  const ARGS = ['node', 'kube-token.js', 'token', '--cluster-name', 'gw', '--region', 'eu-central-1'];

  test('a cached token valid for more than two minutes is printed without running the AWS CLI', async () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const cred = credential('2026-01-01T12:10:00Z');
    await withCache({ cluster: 'gw', status: cred.status, credential: cred }, async (file, written) => {
      await withoutCli(() => printToken(ARGS, file, now));
      expect(JSON.parse(written.join(''))).toEqual(cred);
    });
  });

  test('a token cached for another cluster is not used: the plugin goes to the AWS CLI', async () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const cred = credential('2026-01-01T12:10:00Z');
    await withCache({ cluster: 'other', status: cred.status, credential: cred }, async (file, written) => {
      await expect(withoutCli(() => printToken(ARGS, file, now))).rejects.toThrow('cannot run aws');
      expect(written).toEqual([]);
    });
  });

  test('a token about to expire is fetched again with the AWS CLI, and cached as such', async () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const cred = credential('2026-01-01T12:01:00Z');
    await withCache({ cluster: 'gw', status: cred.status, credential: cred }, async (file, written) => {
      // With fake credentials `aws eks get-token` presigns offline; the result is a fresh token, cached for next time.
      const env = { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_SESSION_TOKEN: 'testing' };
      const saved = process.env;
      process.env = env;
      try {
        await printToken(ARGS, file, now);
      } finally {
        process.env = saved;
      }
      const printed = JSON.parse(written.join(''));
      expect(printed.status.token).toMatch(/^k8s-aws-v1\./);
      expect(printed.status.token).not.toBe(cred.status.token);
      expect(JSON.parse(await fs.promises.readFile(file, 'utf-8'))).toEqual({ cluster: 'gw', source: 'aws-cli', status: printed.status, credential: printed });
    });
  });
});

describe('seedToken (the token minted in-process, cached for the plugin)', () => {
  const minted = (expires: string) => ({
    kind: 'ExecCredential' as const,
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    spec: {},
    status: { expirationTimestamp: expires, token: 'k8s-aws-v1.minted' },
  });

  async function inDir(run: (file: string) => Promise<void>): Promise<void> {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'seed-'));
    try {
      await run(path.join(dir, 'token.json'));
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  test('the seeded token is what the plugin prints, with no AWS CLI on PATH; the cache is private', async () => {
    await inDir(async (file) => {
      const credential = minted(new Date(Date.now() + 14 * 60_000).toISOString());
      const asked: unknown[] = [];
      expect(await seedToken('gw', 'eu-central-1', file, async (opts) => (asked.push(opts), credential))).toBe(true);
      expect(asked).toEqual([{ clusterName: 'gw', region: 'eu-central-1' }]);
      expect(JSON.parse(await fs.promises.readFile(file, 'utf-8'))).toEqual({ cluster: 'gw', source: 'sdk', status: credential.status, credential });
      expect((await fs.promises.stat(file)).mode & 0o777).toBe(0o600);
      expect(await fs.promises.readdir(path.dirname(file))).toEqual(['token.json']);

      const written: string[] = [];
      const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
      const savedPath = process.env.PATH;
      process.env.PATH = path.dirname(file);
      try {
        await printToken(['node', 'kube-token.js', 'token', '--cluster-name', 'gw', '--region', 'eu-central-1'], file);
      } finally {
        process.env.PATH = savedPath;
        spy.mockRestore();
      }
      expect(JSON.parse(written.join(''))).toEqual(credential);
    });
  });

  test('minting fails: a warning, no cache, so the plugin falls back to the AWS CLI', async () => {
    await inDir(async (file) => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        expect(await seedToken('gw', 'eu-central-1', file, async () => Promise.reject(new Error('Could not load credentials from any providers')))).toBe(false);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('Could not load credentials from any providers'));
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('aws eks get-token'));
      } finally {
        warn.mockRestore();
      }
      await expect(fs.promises.access(file)).rejects.toThrow();
    });
  });

  test('with the real minting (SDK, static credentials, offline): an EKS token for this cluster', async () => {
    await inDir(async (file) => {
      const mint = (opts: { clusterName: string; region: string }) =>
        mintEksToken({ ...opts, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' } });
      expect(await seedToken('gw', 'eu-central-1', file, mint)).toBe(true);
      const cached = JSON.parse(await fs.promises.readFile(file, 'utf-8'));
      expect(cached).toMatchObject({ cluster: 'gw', source: 'sdk', credential: { kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1' } });
      const url = urlOfToken(cached.credential.status.token);
      expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
      expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDEXAMPLE\/\d{8}\/eu-central-1\/sts\/aws4_request$/);
      const expires = Date.parse(cached.credential.status.expirationTimestamp) - Date.now();
      expect(expires).toBeGreaterThan(13 * 60_000);
      expect(expires).toBeLessThanOrEqual(14 * 60_000);
    });
  });
});
