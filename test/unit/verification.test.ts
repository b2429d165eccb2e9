/**
 * The judgements behind the seed's "Post-install / Post-upgrade" and "Scaling": pure functions over what
 * kubectl and helm print.
 */
import {
  AGENT_LABEL,
  JOB_LABEL,
  agentImage,
  byNameNote,
  capacityReport,
  findAgent,
  finishedTestPhase,
  formatBytes,
  hasLabel,
  hasPod,
  jobPods,
  judgeConnectivity,
  parseImage,
  pickLabelledAgent,
  splitClusterList,
  quantityToBytes,
  rolloutState,
  type DeploymentLike,
  type KubeListItem,
  type NodeLike,
  type PodLike,
} from '../../lambdas/shared/domain/verification';

const GI = 2 ** 30;
const MI = 2 ** 20;
const DIGEST = 'sha256:4bf6a2d1c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2';

describe('parseImage', () => {
  test.each([
    ['quay.io/apheris/gateway-agent:0.16.20', 'quay.io/apheris/gateway-agent', '0.16.20', null],
    ['registry.example:5000/apheris/agent:v0.16.20', 'registry.example:5000/apheris/agent', 'v0.16.20', null],
    ['registry.example:5000/apheris/agent', 'registry.example:5000/apheris/agent', null, null],
    [`apheris/agent@${DIGEST}`, 'apheris/agent', null, DIGEST],
    [`apheris/agent:0.16.20@${DIGEST}`, 'apheris/agent', '0.16.20', DIGEST],
    [`registry.example:5000/apheris/agent:0.16.20@${DIGEST}`, 'registry.example:5000/apheris/agent', '0.16.20', DIGEST],
    ['apheris/agent', 'apheris/agent', null, null],
    ['agent', 'agent', null, null],
  ])('%s', (image, repository, tag, digest) => {
    expect(parseImage(image)).toEqual({ image, repository, tag, digest });
  });
});

const deployment = (name: string, over: Partial<DeploymentLike> = {}): DeploymentLike => ({
  metadata: { name, generation: 3 },
  spec: { replicas: 2, template: { spec: { containers: [{ image: 'quay.io/apheris/gateway-agent:0.16.20' }, { image: 'sidecar:1.0' }] } } },
  status: { replicas: 2, readyReplicas: 2, updatedReplicas: 2, availableReplicas: 2, observedGeneration: 3 },
  ...over,
});

describe('pickLabelledAgent', () => {
  test('no Deployment: none picked, and the message names the label', () => {
    expect(pickLabelledAgent([])).toEqual({ deployment: null, why: `no Deployment has the label ${AGENT_LABEL}` });
  });

  test('exactly one: picked, found by label', () => {
    const d = deployment('apheris-gateway-agent');
    expect(pickLabelledAgent([d])).toEqual({ deployment: d, why: 'found by label apheris-component=agent' });
  });

  test('two: none picked (the seed expects only one), and the message lists both names', () => {
    const result = pickLabelledAgent([deployment('apheris-gateway-agent'), deployment('apheris-gateway-agent-old')]);
    expect(result.deployment).toBeNull();
    expect(result.why).toBe('2 Deployments have the label apheris-component=agent (apheris-gateway-agent, apheris-gateway-agent-old)');
  });
});

describe('hasLabel (the two selector forms kubectl -l was given)', () => {
  test.each<[Record<string, string> | undefined, string, boolean]>([
    [{ 'apheris-component': 'agent' }, AGENT_LABEL, true],
    [{ 'apheris-component': 'agent-old' }, AGENT_LABEL, false],
    [{ 'apheris-component': 'dal' }, AGENT_LABEL, false],
    [{ app: 'agent' }, AGENT_LABEL, false],
    [undefined, AGENT_LABEL, false],
    [{ apheris_job_id: 'j1' }, JOB_LABEL, true],
    [{ apheris_job_id: '' }, JOB_LABEL, true],
    [{ apheris_job: 'j1' }, JOB_LABEL, false],
    [undefined, JOB_LABEL, false],
  ])('%j matches %s: %s', (labels, selector, expected) => {
    expect(hasLabel(labels, selector)).toBe(expected);
  });
});

describe('findAgent (the label, then the name, over the Deployments of the namespace)', () => {
  const labelled = (name: string, component = 'agent') => deployment(name, { metadata: { name, generation: 3, labels: { 'apheris-component': component } } });

  test('exactly one labelled: that one, whatever its name', () => {
    const agent = labelled('gw-agent');
    expect(findAgent([labelled('apheris-gateway-dal', 'dal'), agent, deployment('apheris-gateway-agent')])).toEqual({ deployment: agent, foundBy: 'found by label apheris-component=agent' });
  });

  test('none labelled: the one named apheris-gateway-agent', () => {
    const named = deployment('apheris-gateway-agent');
    expect(findAgent([labelled('apheris-gateway-dal', 'dal'), named])).toEqual({
      deployment: named,
      foundBy: 'no Deployment has the label apheris-component=agent; found by name apheris-gateway-agent',
    });
  });

  test('two labelled: the named one among them, and both names in the message', () => {
    const a = labelled('apheris-gateway-agent');
    expect(findAgent([labelled('apheris-gateway-agent-old'), a])).toEqual({
      deployment: a,
      foundBy: '2 Deployments have the label apheris-component=agent (apheris-gateway-agent-old, apheris-gateway-agent); found by name apheris-gateway-agent',
    });
  });

  test('neither: null, and the message says both', () => {
    expect(findAgent([])).toEqual({ deployment: null, foundBy: 'no Deployment has the label apheris-component=agent; no Deployment named apheris-gateway-agent either' });
  });

  test('byNameNote words the lookup by name after any verdict', () => {
    expect(byNameNote('x', true)).toBe('x; found by name apheris-gateway-agent');
    expect(byNameNote('x', false)).toBe('x; no Deployment named apheris-gateway-agent either');
  });
});

describe('splitClusterList, jobPods, hasPod (the one kubectl list)', () => {
  // As `kubectl get deployments,pods,nodes -n apheris -o json` prints them: a List whose items carry their kind.
  const items: KubeListItem[] = [
    { kind: 'Deployment', metadata: { name: 'apheris-gateway-agent' } },
    { kind: 'Pod', metadata: { name: 'apheris-gateway-connectivity-test' } },
    { kind: 'Pod', metadata: { name: 'job-a', labels: { apheris_job_id: 'j1' } } } as KubeListItem,
    { kind: 'Pod', metadata: { name: 'apheris-gateway-agent-5d8f-x2' } },
    { kind: 'Node', metadata: { name: 'ip-10-0-1-1' } },
    { kind: 'Service', metadata: { name: 'ignored' } },
  ];

  test('each kind to its own list, in order; other kinds dropped', () => {
    const split = splitClusterList(items);
    expect(split.deployments?.map((d) => d.metadata.name)).toEqual(['apheris-gateway-agent']);
    expect(split.pods?.map((p) => p.metadata.name)).toEqual(['apheris-gateway-connectivity-test', 'job-a', 'apheris-gateway-agent-5d8f-x2']);
    expect(split.nodes?.map((n) => n.metadata.name)).toEqual(['ip-10-0-1-1']);
  });

  test('an empty list: three empty lists (not null: listed, nothing there)', () => {
    expect(splitClusterList([])).toEqual({ deployments: [], pods: [], nodes: [] });
  });

  test('jobPods keeps the pods labelled apheris_job_id; hasPod finds a pod by name', () => {
    const pods = splitClusterList(items).pods!;
    expect(jobPods(pods).map((p) => p.metadata.name)).toEqual(['job-a']);
    expect(hasPod(pods, 'apheris-gateway-connectivity-test')).toBe(true);
    expect(hasPod(pods, 'apheris-gateway-connectivity-tes')).toBe(false);
    expect(hasPod([], 'apheris-gateway-connectivity-test')).toBe(false);
  });
});

describe('agentImage', () => {
  test('the first container is the agent', () => {
    expect(agentImage(deployment('a'))).toEqual({ image: 'quay.io/apheris/gateway-agent:0.16.20', repository: 'quay.io/apheris/gateway-agent', tag: '0.16.20', digest: null });
  });

  test('no containers: null', () => {
    expect(agentImage({ metadata: { name: 'a' } })).toBeNull();
    expect(agentImage({ metadata: { name: 'a' }, spec: { template: { spec: { containers: [] } } } })).toBeNull();
  });
});

describe('rolloutState', () => {
  test('ready: latest spec observed, every desired replica updated and ready', () => {
    expect(rolloutState(deployment('a'))).toEqual({
      ready: true,
      desired: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      detail: '2/2 replicas ready, 2/2 updated',
    });
  });

  test('not ready while the controller has not observed the latest generation, even with all replicas ready', () => {
    const state = rolloutState(deployment('a', { metadata: { name: 'a', generation: 4 } }));
    expect(state.ready).toBe(false);
    expect(state.detail).toBe('the controller has not yet seen the latest Deployment spec');
  });

  test('not ready with fewer ready replicas than desired', () => {
    const state = rolloutState(deployment('a', { status: { readyReplicas: 1, updatedReplicas: 2, observedGeneration: 3 } }));
    expect(state).toMatchObject({ ready: false, readyReplicas: 1, updatedReplicas: 2, detail: '1/2 replicas ready, 2/2 updated' });
  });

  test('not ready with fewer updated replicas than desired (old pods still serve)', () => {
    const state = rolloutState(deployment('a', { status: { readyReplicas: 2, updatedReplicas: 1, observedGeneration: 3 } }));
    expect(state).toMatchObject({ ready: false, detail: '2/2 replicas ready, 1/2 updated' });
  });

  test('spec.replicas defaults to 1, as in Kubernetes', () => {
    const d: DeploymentLike = { metadata: { name: 'a', generation: 1 }, status: { readyReplicas: 1, updatedReplicas: 1, observedGeneration: 1 } };
    expect(rolloutState(d)).toMatchObject({ ready: true, desired: 1, detail: '1/1 replicas ready, 1/1 updated' });
  });

  test('no status at all: not ready', () => {
    expect(rolloutState({ metadata: { name: 'a' }, spec: { replicas: 1 } })).toMatchObject({ ready: false, readyReplicas: 0, updatedReplicas: 0 });
  });
});

/** helm 3's `helm test` status block. */
const helmOutput = (phase: string) =>
  [
    'NAME: apheris-gateway',
    'LAST DEPLOYED: Mon Jun  3 10:00:00 2024',
    'NAMESPACE: apheris',
    'STATUS: deployed',
    'REVISION: 4',
    'TEST SUITE:     apheris-gateway-connectivity-test',
    'Last Started:   Mon Jun  3 10:05:00 2024',
    'Last Completed: Mon Jun  3 10:05:30 2024',
    `Phase:          ${phase}`,
  ].join('\n');

describe('judgeConnectivity', () => {
  test('pod Succeeded and helm 0: passed', () => {
    expect(judgeConnectivity({ helmExitCode: 0, helmOutput: helmOutput('Succeeded'), podPhase: 'Succeeded' })).toEqual({
      result: 'passed',
      phase: 'Succeeded',
      detail: 'connectivity test pod Succeeded',
    });
  });

  test('the pod phase wins over a non-zero helm exit: Succeeded pod passes, with a note', () => {
    const verdict = judgeConnectivity({ helmExitCode: 1, helmOutput: 'Error: unable to get pod logs', podPhase: 'Succeeded' });
    expect(verdict.result).toBe('passed');
    expect(verdict.detail).toBe('connectivity test pod Succeeded (helm exited 1, but the test pod succeeded)');
  });

  test('the pod phase wins over helm exit 0: a Failed pod fails', () => {
    expect(judgeConnectivity({ helmExitCode: 0, helmOutput: helmOutput('Succeeded'), podPhase: 'Failed' })).toEqual({
      result: 'failed',
      phase: 'Failed',
      detail: 'connectivity test pod Failed (helm exited 0)',
    });
  });

  test('pod gone: the phase in helm output decides ("Phase:          Failed")', () => {
    expect(judgeConnectivity({ helmExitCode: 1, helmOutput: helmOutput('Failed'), podPhase: null })).toEqual({
      result: 'failed',
      phase: 'Failed',
      detail: 'connectivity test pod Failed (helm exited 1)',
    });
    expect(judgeConnectivity({ helmExitCode: 0, helmOutput: helmOutput('Succeeded'), podPhase: null })).toMatchObject({ result: 'passed', phase: 'Succeeded' });
  });

  test('a Running pod has not passed', () => {
    expect(judgeConnectivity({ helmExitCode: 0, helmOutput: '', podPhase: 'Running' }).result).toBe('failed');
  });

  test('no phase anywhere: failed, never passed on the exit code alone', () => {
    expect(judgeConnectivity({ helmExitCode: 0, helmOutput: 'NAME: apheris-gateway\nSTATUS: deployed', podPhase: null })).toEqual({
      result: 'failed',
      phase: null,
      detail: 'no test phase found: helm exited 0 and the test pod is gone',
    });
    expect(judgeConnectivity({ helmExitCode: 1, helmOutput: 'Error: release: not found', podPhase: null }).detail).toBe(
      'no test phase found: helm exited 1 and the test pod is gone',
    );
  });
});

describe('finishedTestPhase (the phase helm test printed for the connectivity test)', () => {
  test.each(['Succeeded', 'Failed'])('%s', (phase) => {
    expect(finishedTestPhase(helmOutput(phase))).toBe(phase);
    expect(finishedTestPhase(`${helmOutput(phase)}\n\nPOD LOGS: apheris-gateway-connectivity-test\nall good\n`)).toBe(phase);
  });

  test('a phase that is not final (Running, Unknown): null, the pod must be read', () => {
    expect(finishedTestPhase(helmOutput('Running'))).toBeNull();
    expect(finishedTestPhase(helmOutput('Unknown'))).toBeNull();
  });

  test('no status block (helm failed early): null', () => {
    expect(finishedTestPhase('Error: release: not found')).toBeNull();
    expect(finishedTestPhase('')).toBeNull();
    expect(finishedTestPhase('NAME: apheris-gateway\nSTATUS: deployed\nTEST SUITE: None')).toBeNull();
  });

  test("another test suite's phase is not the connectivity test's", () => {
    const other = [
      'NAME: apheris-gateway',
      'TEST SUITE:     apheris-gateway-dal-test',
      'Last Started:   Mon Jun  3 10:05:00 2024',
      'Last Completed: Mon Jun  3 10:05:30 2024',
      'Phase:          Succeeded',
    ].join('\n');
    expect(finishedTestPhase(other)).toBeNull();
    const both = `${other}\nTEST SUITE:     apheris-gateway-connectivity-test\nLast Started:   x\nLast Completed: y\nPhase:          Failed`;
    expect(finishedTestPhase(both)).toBe('Failed');
  });

  test('text in the pod logs is never read as status', () => {
    const logs = 'NAME: x\n\nPOD LOGS: apheris-gateway-connectivity-test\nTEST SUITE:     apheris-gateway-connectivity-test\nPhase:          Succeeded\n';
    expect(finishedTestPhase(logs)).toBeNull();
  });
});

describe('quantityToBytes', () => {
  test.each<[string, number | null]>([
    ['4Gi', 4 * GI],
    ['4096Mi', 4 * GI],
    ['4G', 4e9],
    ['1.5e9', 1.5e9],
    ['512Ki', 512 * 1024],
    ['15896488Ki', 15896488 * 1024],
    ['1Ti', 2 ** 40],
    ['2k', 2000],
    ['  4Gi  ', 4 * GI],
    ['100m', 0],
    ['', null],
    ['abc', null],
    ['4GiB', null],
    ['4Xi', null],
    ['-4Gi', null],
  ])('%j → %p', (quantity, bytes) => {
    expect(quantityToBytes(quantity)).toBe(bytes);
  });
});

describe('formatBytes', () => {
  test('whole Gi as Gi, otherwise Mi', () => {
    expect(formatBytes(4 * GI)).toBe('4Gi');
    expect(formatBytes(0)).toBe('0Gi');
    expect(formatBytes(1536 * MI)).toBe('1536Mi');
  });
});

const jobPod = (name: string, ...memory: string[]): PodLike => ({
  metadata: { name, labels: { [JOB_LABEL]: `job-${name}` } },
  spec: { containers: memory.map((m) => ({ resources: { requests: { memory: m, cpu: '1' } } })) },
  status: { phase: 'Running' },
});
const node = (name: string, memory: string): NodeLike => ({ metadata: { name }, status: { allocatable: { memory, cpu: '4' } } });

describe('capacityReport (the seed\'s "Scaling")', () => {
  test('most common request, fits per node, utilisation, and no recommendation when node memory is a multiple', () => {
    const pods = [jobPod('a', '4Gi'), jobPod('b', '4Gi'), jobPod('c', '2Gi')];
    const report = capacityReport(pods, [node('n1', '16Gi'), node('n2', '16Gi')]);
    expect(report.computations).toBe(3);
    expect(report.requests).toEqual([
      { pod: 'a', memory: '4Gi', bytes: 4 * GI },
      { pod: 'b', memory: '4Gi', bytes: 4 * GI },
      { pod: 'c', memory: '2Gi', bytes: 2 * GI },
    ]);
    expect(report.mostCommonRequest).toEqual({ memory: '4Gi', bytes: 4 * GI, pods: 2 });
    expect(report.nodes).toEqual([
      { node: 'n1', allocatableMemory: '16Gi', bytes: 16 * GI, fits: 4 },
      { node: 'n2', allocatableMemory: '16Gi', bytes: 16 * GI, fits: 4 },
    ]);
    expect(report.totalAllocatableBytes).toBe(32 * GI);
    expect(report.totalRequestedBytes).toBe(10 * GI);
    expect(report.utilisation).toBeCloseTo(10 / 32);
    expect(report.recommendation).toBeNull();
  });

  test('a tie goes to the larger request', () => {
    const report = capacityReport([jobPod('a', '2Gi'), jobPod('b', '8Gi'), jobPod('c', '2Gi'), jobPod('d', '8Gi')], [node('n1', '32Gi')]);
    expect(report.mostCommonRequest).toEqual({ memory: '8Gi', bytes: 8 * GI, pods: 2 });
    // In either listing order.
    expect(capacityReport([jobPod('b', '8Gi'), jobPod('a', '2Gi'), jobPod('d', '8Gi'), jobPod('c', '2Gi')], []).mostCommonRequest?.bytes).toBe(8 * GI);
  });

  test('recommendation when a node leaves at least 10 % of a request unused; it names the node, the fit and the waste', () => {
    // 15Gi / 4Gi: 3 fit, 3Gi (75 % of a request) unused.
    const report = capacityReport([jobPod('a', '4Gi')], [node('n1', '15Gi'), node('n2', '16Gi')]);
    expect(report.nodes.map((n) => n.fits)).toEqual([3, 4]);
    expect(report.recommendation).toBe(
      'node memory is not a multiple of the most common computation request (4Gi): n1 (15Gi fits 3, leaving 3Gi unused). ' +
        'Consider Karpenter node pools (karpenter_node_pools) whose instance memory is a multiple of it.',
    );
    expect(report.recommendation).not.toContain('n2');
  });

  test('the 10 % threshold: just below is tolerated, at it is reported', () => {
    const request = 10 * GI;
    const below = capacityReport([jobPod('a', '10Gi')], [node('n1', `${2 * request + request * 0.1 - MI}`)]);
    expect(below.recommendation).toBeNull();
    const at = capacityReport([jobPod('a', '10Gi')], [node('n1', `${2 * request + 1024 * MI}`)]);
    expect(at.recommendation).toContain('n1 (');
  });

  test('typical EKS allocatable memory in Ki (not a whole Gi) against a 4Gi request', () => {
    const report = capacityReport([jobPod('a', '4Gi')], [node('ip-10-0-1-5', '15896488Ki')]);
    expect(report.nodes[0]).toMatchObject({ bytes: 15896488 * 1024, fits: 3 });
    expect(report.recommendation).toContain('ip-10-0-1-5 (15524Mi fits 3, leaving 3236Mi unused)');
  });

  test('at most three wasteful nodes are named', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4'].map((n) => node(n, '6Gi'));
    const recommendation = capacityReport([jobPod('a', '4Gi')], nodes).recommendation!;
    expect(recommendation).toContain('n3 (');
    expect(recommendation).not.toContain('n4');
  });

  test('multi-container requests are summed per pod', () => {
    const report = capacityReport([jobPod('a', '3Gi', '1Gi'), jobPod('b', '4Gi')], [node('n1', '8Gi')]);
    expect(report.requests).toEqual([
      { pod: 'a', memory: '4Gi', bytes: 4 * GI },
      { pod: 'b', memory: '4Gi', bytes: 4 * GI },
    ]);
    expect(report.mostCommonRequest).toEqual({ memory: '4Gi', bytes: 4 * GI, pods: 2 });
    expect(report.utilisation).toBe(1);
  });

  test('containers without a memory request count as 0', () => {
    const pod: PodLike = {
      metadata: { name: 'a', labels: { [JOB_LABEL]: 'j' } },
      spec: { containers: [{ resources: { requests: { memory: '2Gi' } } }, { resources: { requests: { cpu: '1' } } }, {}] },
    };
    expect(capacityReport([pod], []).requests).toEqual([{ pod: 'a', memory: '2Gi', bytes: 2 * GI }]);
  });

  test('pods without the apheris_job_id label are ignored', () => {
    const agent: PodLike = { metadata: { name: 'agent', labels: { 'apheris-component': 'agent' } }, spec: { containers: [{ resources: { requests: { memory: '1Gi' } } }] } };
    const bare: PodLike = { metadata: { name: 'bare' }, spec: { containers: [{ resources: { requests: { memory: '1Gi' } } }] } };
    const report = capacityReport([agent, bare, jobPod('job', '4Gi')], [node('n1', '16Gi')]);
    expect(report.computations).toBe(1);
    expect(report.requests.map((r) => r.pod)).toEqual(['job']);
    expect(report.totalRequestedBytes).toBe(4 * GI);
  });

  test('no computation pods: no most common request, no recommendation, utilisation 0', () => {
    const report = capacityReport([], [node('n1', '15Gi')]);
    expect(report).toMatchObject({ computations: 0, mostCommonRequest: null, recommendation: null, utilisation: 0, totalAllocatableBytes: 15 * GI });
    expect(report.nodes).toEqual([{ node: 'n1', allocatableMemory: '15Gi', bytes: 15 * GI, fits: null }]);
  });

  test('no nodes: utilisation null', () => {
    expect(capacityReport([], []).utilisation).toBeNull();
    expect(capacityReport([jobPod('a', '4Gi')], []).utilisation).toBeNull();
  });

  test('computation pods that request no memory: no most common request', () => {
    const report = capacityReport([jobPod('a')], [node('n1', '15Gi')]);
    expect(report.computations).toBe(1);
    expect(report.mostCommonRequest).toBeNull();
    expect(report.recommendation).toBeNull();
  });

  test('a node without allocatable memory counts 0 and is not called wasteful', () => {
    const report = capacityReport([jobPod('a', '4Gi')], [{ metadata: { name: 'n0' } }]);
    expect(report.nodes).toEqual([{ node: 'n0', allocatableMemory: '0', bytes: 0, fits: 0 }]);
    expect(report.recommendation).toBeNull();
  });
});

describe('capacityReport: finished computations', () => {
  test('pods that Succeeded or Failed no longer hold node memory and are not counted', () => {
    const done = (name: string, phase: string): PodLike => ({ ...jobPod(name, '4Gi'), status: { phase } });
    const report = capacityReport([jobPod('running', '4Gi'), done('ok', 'Succeeded'), done('bad', 'Failed')], [node('n1', '16Gi')]);
    expect(report.computations).toBe(1);
    expect(report.utilisation).toBe(0.25);
  });
});
