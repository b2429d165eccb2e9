import { GPU_TAINT, gpuSchedulingWarnings, isGpuInstanceFamily, lintNodePools } from '../../lambdas/shared/domain/node-pools';

const GPU = { key: 'nvidia.com/gpu', effect: 'NoSchedule' };

describe('isGpuInstanceFamily', () => {
  test.each([
    ['p3', true],
    ['p3dn', true],
    ['p4d', true],
    ['p4de', true],
    ['p5', true],
    ['g4dn', true],
    ['g5', true],
    ['g5g', true],
    ['g6', true],
    ['g6e', true],
    ['gr6', true],
    ['G5', true],
    ['P4D', true],
    ['c7g', false],
    ['m6g', false],
    ['m7g', false],
    ['r6g', false],
    ['t4g', false],
    ['m5', false],
    ['c5', false],
    ['r7i', false],
    ['inf2', false],
    ['trn1', false],
    ['x2gd', false],
    ['hpc7g', false],
  ])('%s → %s', (family, gpu) => {
    expect(isGpuInstanceFamily(family)).toBe(gpu);
  });
});

describe('lintNodePools', () => {
  test('GPU_TAINT is the seed taint', () => {
    expect(GPU_TAINT).toEqual({ key: 'nvidia.com/gpu', effect: 'NoSchedule' });
  });

  test('no pools, no findings', () => {
    expect(lintNodePools({})).toEqual([]);
  });

  test('a CPU-only pool needs no taint', () => {
    expect(lintNodePools({ general: { instance_families: ['c7g', 'm6g', 'm5'] } })).toEqual([]);
  });

  test('a GPU pool with the nvidia.com/gpu NoSchedule taint passes', () => {
    expect(lintNodePools({ gpu: { instance_families: ['g5', 'p4d'], taints: [GPU] } })).toEqual([]);
  });

  test('the GPU taint may sit among other taints', () => {
    const taints = [{ key: 'example.com/expensive', effect: 'NoSchedule' }, GPU];
    expect(lintNodePools({ 'expensive-pool': { instance_families: ['p4d'], taints } })).toEqual([]);
  });

  test.each([
    ['no taints', undefined],
    ['an empty taint list', []],
    ['another key', [{ key: 'example.com/expensive', effect: 'NoSchedule' }]],
    ['PreferNoSchedule', [{ key: 'nvidia.com/gpu', effect: 'PreferNoSchedule' }]],
    ['NoExecute', [{ key: 'nvidia.com/gpu', effect: 'NoExecute' }]],
    ['a differently spelt key', [{ key: 'nvidia.com/GPU', effect: 'NoSchedule' }]],
  ])('a GPU pool with %s is reported', (_, taints) => {
    const findings = lintNodePools({ gpu: { instance_families: ['g5'], ...(taints ? { taints } : {}) } });
    expect(findings).toHaveLength(1);
    expect(findings[0].pool).toBe('gpu');
    expect(findings[0].message).toContain('node pool "gpu"');
    expect(findings[0].message).toContain('nvidia.com/gpu');
    expect(findings[0].message).toContain('NoSchedule');
  });

  test('the finding names only the GPU families of a mixed pool', () => {
    const [finding] = lintNodePools({ mixed: { instance_families: ['c7g', 'g5', 'm5', 'p4d'] } });
    expect(finding.message).toContain('(g5, p4d)');
    expect(finding.message).not.toContain('c7g');
  });

  test('of several pools only the bad one is reported', () => {
    const findings = lintNodePools({
      general: { instance_families: ['m5', 'c7g'] },
      'gpu-ok': { instance_families: ['g5'], taints: [GPU] },
      'gpu-bad': { instance_families: ['p5'], taints: [{ key: 'nvidia.com/gpu', effect: 'PreferNoSchedule' }] },
      graviton: { instance_families: ['c7g', 'm7g'] },
    });
    expect(findings.map((f) => f.pool)).toEqual(['gpu-bad']);
    expect(findings[0].message).toContain('node pool "gpu-bad" has GPU instance families (p5)');
  });

  test('every bad pool is reported', () => {
    const findings = lintNodePools({
      a: { instance_families: ['g5'] },
      b: { instance_families: ['m5'] },
      c: { instance_families: ['gr6'] },
    });
    expect(findings.map((f) => f.pool)).toEqual(['a', 'c']);
  });
});

describe('gpuSchedulingWarnings (the HOWTO\'s "Optional: Configure custom node pools")', () => {
  const gpuPool = { instance_families: ['g5', 'm6g'], taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] };
  const expensive = { instance_families: ['p4d'], taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }, { key: 'example.com/expensive', effect: 'NoSchedule' }] };

  test('a GPU pool while enable_nvidia_gpu is not true: one warning per pool, naming its GPU families', () => {
    for (const enableNvidiaGpu of [undefined, false]) {
      const warnings = gpuSchedulingWarnings({ enableNvidiaGpu, pools: { gpu: gpuPool, general: { instance_families: ['c7g'] } } });
      expect(warnings).toEqual([expect.stringContaining('node pool "gpu" has GPU instance families (g5) but module.enable_nvidia_gpu is not true')]);
    }
  });

  test('GPU pools with enable_nvidia_gpu = true, or no GPU pool at all: nothing', () => {
    expect(gpuSchedulingWarnings({ enableNvidiaGpu: true, pools: { gpu: gpuPool } })).toEqual([]);
    expect(gpuSchedulingWarnings({ pools: { general: { instance_families: ['c7g', 'm6g'] } } })).toEqual([]);
  });

  test('the HOWTO\'s example mapping (4 and 8 GPUs to example.com/expensive) with the pool that carries the taint: nothing', () => {
    expect(gpuSchedulingWarnings({ enableNvidiaGpu: true, pools: { 'expensive-pool': expensive }, nodePoolMapping: { '4': 'example.com/expensive', '8': 'example.com/expensive' } })).toEqual([]);
  });

  test('a mapping to a taint no pool carries (a typo, or the pool left out): one warning per mapping', () => {
    const warnings = gpuSchedulingWarnings({ enableNvidiaGpu: true, pools: { 'expensive-pool': expensive }, nodePoolMapping: { '4': 'example.com/expensiv', '8': 'example.com/expensive' } });
    expect(warnings).toEqual([expect.stringContaining('nodePoolMapping sends computations with 4 GPU(s) to taint "example.com/expensiv", but no node pool')]);
    expect(warnings[0]).toContain('the mapping only adds a toleration (HOWTO)');
  });

  test('a mapping with no custom pools at all', () => {
    expect(gpuSchedulingWarnings({ pools: {}, nodePoolMapping: { '2': 'example.com/big' } })).toHaveLength(1);
  });
});
