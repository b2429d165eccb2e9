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
