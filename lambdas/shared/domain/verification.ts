/**
 * The HOWTO's "Post-install / Post-upgrade": which agent version runs, whether its rollout finished, whether
 * the connectivity tests passed, and (from "Scaling") how well computations fill the nodes. Pure functions over
 * the JSON that kubectl and helm print, so every judgement has small tests.
 */

export const AGENT_NAMESPACE = 'apheris';
export const AGENT_LABEL = 'apheris-component=agent';
/** The HOWTO's fallback: "the name will likely be apheris-gateway-agent". */
export const AGENT_DEPLOYMENT_NAME = 'apheris-gateway-agent';
export const HELM_RELEASE = 'apheris-gateway';
export const CONNECTIVITY_TEST_POD = 'apheris-gateway-connectivity-test';
export const JOB_LABEL = 'apheris_job_id';

export interface ImageRef {
  readonly image: string;
  readonly repository: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

/** `registry:5000/repo/name:tag@sha256:…`: the tag is after the last colon of the last path segment. */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : null;
  const named = at >= 0 ? image.slice(0, at) : image;
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const hasTag = colon > slash;
  return { image, repository: hasTag ? named.slice(0, colon) : named, tag: hasTag ? named.slice(colon + 1) : null, digest };
}

export interface DeploymentLike {
  readonly metadata: { readonly name: string; readonly generation?: number; readonly labels?: Record<string, string> };
  readonly spec?: {
    readonly replicas?: number;
    readonly template?: { readonly spec?: { readonly containers?: ReadonlyArray<{ readonly image?: string }> } };
  };
  readonly status?: {
    readonly replicas?: number;
    readonly readyReplicas?: number;
    readonly updatedReplicas?: number;
    readonly availableReplicas?: number;
    readonly observedGeneration?: number;
  };
}

/** The label query is trusted only when it finds exactly one Deployment, as the HOWTO's step-by-step assumes. */
export function pickLabelledAgent(items: readonly DeploymentLike[]): { deployment: DeploymentLike | null; why: string } {
  if (items.length === 1) return { deployment: items[0], why: `found by label ${AGENT_LABEL}` };
  return {
    deployment: null,
    why:
      items.length === 0
        ? `no Deployment has the label ${AGENT_LABEL}`
        : `${items.length} Deployments have the label ${AGENT_LABEL} (${items.map((d) => d.metadata.name).join(', ')})`,
  };
}

/** A label selector of the two forms used here, `key=value` and `key` (exists), as kubectl's `-l` reads them. */
export function hasLabel(labels: Record<string, string> | undefined, selector: string): boolean {
  const eq = selector.indexOf('=');
  if (eq < 0) return labels?.[selector] !== undefined;
  return labels?.[selector.slice(0, eq)] === selector.slice(eq + 1);
}

/** `found by …` of the lookup by name, after the label's verdict. */
export function byNameNote(labelVerdict: string, found: boolean): string {
  return found ? `${labelVerdict}; found by name ${AGENT_DEPLOYMENT_NAME}` : `${labelVerdict}; no Deployment named ${AGENT_DEPLOYMENT_NAME} either`;
}

/**
 * The HOWTO's agent check over the Deployments of the namespace: the label first (trusted only when it finds exactly
 * one), then the likely name.
 */
export function findAgent(deployments: readonly DeploymentLike[]): { deployment: DeploymentLike | null; foundBy: string } {
  const pick = pickLabelledAgent(deployments.filter((d) => hasLabel(d.metadata.labels, AGENT_LABEL)));
  if (pick.deployment) return { deployment: pick.deployment, foundBy: pick.why };
  const named = deployments.find((d) => d.metadata.name === AGENT_DEPLOYMENT_NAME) ?? null;
  return { deployment: named, foundBy: byNameNote(pick.why, named !== null) };
}

/** The kinds Verify reads, in one `kubectl get deployments,pods,nodes -n apheris -o json` (nodes are cluster-scoped). */
export const CLUSTER_KINDS = 'deployments,pods,nodes';

/** An item of that List: kubectl gives every item its kind. */
export interface KubeListItem {
  readonly kind?: string;
  readonly metadata: { readonly name: string };
}

/** What Verify knows of the cluster before `helm test`; null: that kind could not be listed. */
export interface ClusterSnapshot {
  readonly deployments: readonly DeploymentLike[] | null;
  readonly pods: readonly PodLike[] | null;
  readonly nodes: readonly NodeLike[] | null;
}

export function splitClusterList(items: readonly KubeListItem[]): ClusterSnapshot {
  const ofKind = <T>(kind: string) => items.filter((i) => i.kind === kind) as unknown as T[];
  return { deployments: ofKind<DeploymentLike>('Deployment'), pods: ofKind<PodLike>('Pod'), nodes: ofKind<NodeLike>('Node') };
}

/** The HOWTO's computations: pods labelled apheris_job_id. */
export function jobPods(pods: readonly PodLike[]): PodLike[] {
  return pods.filter((p) => hasLabel(p.metadata.labels, JOB_LABEL));
}

export function hasPod(pods: readonly PodLike[], name: string): boolean {
  return pods.some((p) => p.metadata.name === name);
}

export function agentImage(deployment: DeploymentLike): ImageRef | null {
  const image = deployment.spec?.template?.spec?.containers?.[0]?.image;
  return image ? parseImage(image) : null;
}

export interface RolloutState {
  readonly ready: boolean;
  readonly desired: number;
  readonly readyReplicas: number;
  readonly updatedReplicas: number;
  readonly detail: string;
}

/** Finished when the controller has seen the latest spec and every desired replica is updated and ready. */
export function rolloutState(deployment: DeploymentLike): RolloutState {
  const desired = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const readyReplicas = status.readyReplicas ?? 0;
  const updatedReplicas = status.updatedReplicas ?? 0;
  const observed = (status.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0);
  const ready = observed && readyReplicas >= desired && updatedReplicas >= desired;
  const detail = !observed
    ? 'the controller has not yet seen the latest Deployment spec'
    : `${readyReplicas}/${desired} replicas ready, ${updatedReplicas}/${desired} updated`;
  return { ready, desired, readyReplicas, updatedReplicas, detail };
}

export type ConnectivityResult = 'passed' | 'failed';

export interface ConnectivityVerdict {
  readonly result: ConnectivityResult;
  readonly phase: string | null;
  readonly detail: string;
}

/**
 * Judged by the test pod's phase, not by helm's exit code alone: helm can exit 0 before a failure is recorded,
 * or non-zero while fetching logs of a test that passed. Without any phase the test is not shown to pass.
 */
export function judgeConnectivity(input: { readonly helmExitCode: number; readonly helmOutput: string; readonly podPhase: string | null }): ConnectivityVerdict {
  const helmPhase = /^Phase:\s+(\w+)/m.exec(input.helmOutput)?.[1] ?? null;
  const phase = input.podPhase ?? helmPhase;
  if (phase === 'Succeeded') {
    const note = input.helmExitCode === 0 ? '' : ` (helm exited ${input.helmExitCode}, but the test pod succeeded)`;
    return { result: 'passed', phase, detail: `connectivity test pod ${phase}${note}` };
  }
  if (phase) return { result: 'failed', phase, detail: `connectivity test pod ${phase} (helm exited ${input.helmExitCode})` };
  return { result: 'failed', phase: null, detail: `no test phase found: helm exited ${input.helmExitCode} and the test pod is gone` };
}

/**
 * The final phase helm printed for one test suite (the test pod), from `helm test`'s status block: `TEST SUITE: <name>`
 * … `Phase: <phase>`. Only Succeeded and Failed count: anything else (no status block, Running, Unknown, another
 * suite's phase) is null, and the pod itself has to be read. Log text after `POD LOGS:` is never read as status.
 */
export function finishedTestPhase(helmOutput: string, suite: string = CONNECTIVITY_TEST_POD): 'Succeeded' | 'Failed' | null {
  let inSuite = false;
  for (const line of helmOutput.split('\n')) {
    if (line.startsWith('POD LOGS:')) break;
    const named = /^TEST SUITE:\s+(\S+)/.exec(line);
    if (named) {
      inSuite = named[1] === suite;
      continue;
    }
    const phase = /^Phase:\s+(\w+)/.exec(line)?.[1];
    if (inSuite && phase) return phase === 'Succeeded' || phase === 'Failed' ? phase : null;
  }
  return null;
}

/** Kubernetes resource quantities (`4Gi`, `512Mi`, `2G`, `1.5e9`) as bytes. Small on purpose: memory only. */
const SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

export function quantityToBytes(quantity: string): number | null {
  const match = /^([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)([a-zA-Z]{0,2})$/.exec(quantity.trim());
  if (!match || !(match[2] in SUFFIX)) return null;
  return Math.round(Number(match[1]) * SUFFIX[match[2]]);
}

export function formatBytes(bytes: number): string {
  const gi = bytes / 2 ** 30;
  return Number.isInteger(gi) ? `${gi}Gi` : `${Math.round(bytes / 2 ** 20)}Mi`;
}

export interface PodLike {
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec?: { readonly containers?: ReadonlyArray<{ readonly resources?: { readonly requests?: Record<string, string> } }> };
  readonly status?: { readonly phase?: string };
}

export interface NodeLike {
  readonly metadata: { readonly name: string };
  readonly status?: { readonly allocatable?: Record<string, string> };
}

export interface CapacityReport {
  readonly computations: number;
  readonly requests: ReadonlyArray<{ readonly pod: string; readonly memory: string; readonly bytes: number }>;
  readonly mostCommonRequest: { readonly memory: string; readonly bytes: number; readonly pods: number } | null;
  readonly nodes: ReadonlyArray<{ readonly node: string; readonly allocatableMemory: string; readonly bytes: number; readonly fits: number | null }>;
  readonly totalAllocatableBytes: number;
  readonly totalRequestedBytes: number;
  /** Requested memory of computations over allocatable node memory, 0..1 (the HOWTO's "memory utilization rate"). */
  readonly utilisation: number | null;
  readonly recommendation: string | null;
}

/**
 * The HOWTO's "Scaling": each computation is one pod labelled apheris_job_id, and ideally node memory is a
 * multiple of the most common computation request, for near 100 % memory utilisation.
 */
export function capacityReport(pods: readonly PodLike[], nodes: readonly NodeLike[]): CapacityReport {
  // Finished computations no longer hold node memory.
  const requests = pods
    .filter((p) => p.metadata.labels?.[JOB_LABEL] !== undefined && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
    .map((p) => {
      const bytes = (p.spec?.containers ?? []).reduce((sum, c) => sum + (quantityToBytes(c.resources?.requests?.memory ?? '0') ?? 0), 0);
      return { pod: p.metadata.name, memory: formatBytes(bytes), bytes };
    });
  const counts = new Map<number, number>();
  for (const r of requests) if (r.bytes > 0) counts.set(r.bytes, (counts.get(r.bytes) ?? 0) + 1);
  // Ties go to the larger request, which leaves the more conservative recommendation.
  const [common] = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0]);
  const mostCommonRequest = common ? { memory: formatBytes(common[0]), bytes: common[0], pods: common[1] } : null;
  const nodeRows = nodes.map((n) => {
    const memory = n.status?.allocatable?.memory ?? '0';
    const bytes = quantityToBytes(memory) ?? 0;
    return { node: n.metadata.name, allocatableMemory: memory, bytes, fits: mostCommonRequest ? Math.floor(bytes / mostCommonRequest.bytes) : null };
  });
  const totalAllocatableBytes = nodeRows.reduce((s, n) => s + n.bytes, 0);
  const totalRequestedBytes = requests.reduce((s, r) => s + r.bytes, 0);
  const utilisation = totalAllocatableBytes > 0 ? totalRequestedBytes / totalAllocatableBytes : null;
  return {
    computations: requests.length,
    requests,
    mostCommonRequest,
    nodes: nodeRows,
    totalAllocatableBytes,
    totalRequestedBytes,
    utilisation,
    recommendation: recommend(mostCommonRequest, nodeRows),
  };
}

function recommend(common: CapacityReport['mostCommonRequest'], nodes: CapacityReport['nodes']): string | null {
  if (!common) return null;
  const wasteful = nodes.filter((n) => n.bytes > 0 && n.bytes % common.bytes >= common.bytes * 0.1);
  if (wasteful.length === 0) return null;
  const examples = wasteful
    .slice(0, 3)
    .map((n) => `${n.node} (${formatBytes(n.bytes)} fits ${n.fits}, leaving ${formatBytes(n.bytes % common.bytes)} unused)`)
    .join('; ');
  return (
    `node memory is not a multiple of the most common computation request (${common.memory}): ${examples}. ` +
    'Consider Karpenter node pools (karpenter_node_pools) whose instance memory is a multiple of it.'
  );
}
