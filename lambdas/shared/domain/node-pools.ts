/**
 * The HOWTO's rule for custom Karpenter node pools: GPU computations tolerate the `nvidia.com/gpu` taint and
 * others do not, so a pool of GPU instances without that NoSchedule taint lets ordinary computations land on
 * expensive GPU nodes.
 */

export const GPU_TAINT = { key: 'nvidia.com/gpu', effect: 'NoSchedule' } as const;

/** NVIDIA GPU instance families: p2…p5, g3…g6, gr6 (not Graviton families such as c7g, which end in g). */
const GPU_FAMILY = /^(p\d|g\d|gr\d)/;

export interface NodePoolLike {
  readonly instance_families: readonly string[];
  readonly taints?: ReadonlyArray<{ readonly key: string; readonly effect: string }>;
}

export interface NodePoolFinding {
  readonly pool: string;
  readonly message: string;
}

export function isGpuInstanceFamily(family: string): boolean {
  return GPU_FAMILY.test(family.toLowerCase());
}

export function lintNodePools(pools: Readonly<Record<string, NodePoolLike>>): NodePoolFinding[] {
  const findings: NodePoolFinding[] = [];
  for (const [pool, spec] of Object.entries(pools)) {
    const gpuFamilies = spec.instance_families.filter(isGpuInstanceFamily);
    if (gpuFamilies.length === 0) continue;
    const tainted = (spec.taints ?? []).some((t) => t.key === GPU_TAINT.key && t.effect === GPU_TAINT.effect);
    if (!tainted) {
      findings.push({
        pool,
        message:
          `node pool "${pool}" has GPU instance families (${gpuFamilies.join(', ')}) but no ` +
          `{ key = "${GPU_TAINT.key}", effect = "${GPU_TAINT.effect}" } taint; without it non-GPU computations ` +
          'can be scheduled on the more expensive GPU nodes',
      });
    }
  }
  return findings;
}

/** What configWarnings reads: the module's GPU switch and node pools, and the chart's nodePoolMapping. */
export interface GpuSchedulingConfig {
  readonly enableNvidiaGpu?: boolean;
  readonly pools: Readonly<Record<string, NodePoolLike>>;
  /** helmValues.nodePoolMapping: number of GPUs → the taint key those computations tolerate. */
  readonly nodePoolMapping?: Readonly<Record<string, string>>;
}

/**
 * Config choices that do not stop a run but that operators must hear of (the HOWTO's "Optional: Configure custom
 * node pools"): GPU node pools while GPU workloads are not enabled, and a nodePoolMapping whose taint no pool carries.
 */
export function gpuSchedulingWarnings(c: GpuSchedulingConfig): string[] {
  const warnings: string[] = [];
  if (c.enableNvidiaGpu !== true) {
    for (const [pool, spec] of Object.entries(c.pools)) {
      const gpuFamilies = spec.instance_families.filter(isGpuInstanceFamily);
      if (gpuFamilies.length === 0) continue;
      warnings.push(
        `node pool "${pool}" has GPU instance families (${gpuFamilies.join(', ')}) but module.enable_nvidia_gpu is not true: ` +
          'the HOWTO sets enable_nvidia_gpu = true to enable GPU workloads; without it GPU computations cannot use those nodes',
      );
    }
  }
  const carried = new Set(Object.values(c.pools).flatMap((spec) => (spec.taints ?? []).map((t) => t.key)));
  for (const [gpus, taint] of Object.entries(c.nodePoolMapping ?? {})) {
    if (carried.has(taint)) continue;
    warnings.push(
      `helmValues.nodePoolMapping sends computations with ${gpus} GPU(s) to taint "${taint}", but no node pool in module.karpenter_node_pools carries it: ` +
        'the mapping only adds a toleration (HOWTO), so those computations are not kept to a dedicated pool; add the taint to that pool',
    );
  }
  return warnings;
}
