import { LONGEST_PATH, clusterBuildMinutes, runTimeoutHours } from '../../lambdas/shared/domain/run-budget';

const builds = { planMinutes: 30, applyMinutes: 90, clusterMinutes: 40, queuedMinutes: 60 };

describe('runTimeoutHours', () => {
  test('the name-reuse path with 24 h approvals does not fit in the old 48 h', () => {
    expect(runTimeoutHours(24, builds)).toBeGreaterThan(3 * 24);
  });

  test('three approval waits, then every build of the longest path with its queue time, then the margin', () => {
    // 2×(30+60) + 2×(90+60) + 3×(40+60) = 780 min; + 120 margin = 900 min = 15 h.
    expect(runTimeoutHours(24, builds)).toBe(72 + 15);
    expect(runTimeoutHours(1, builds)).toBe(3 + 15);
  });

  test('rounds build time up to a whole hour, never down', () => {
    expect(runTimeoutHours(1, { ...builds, clusterMinutes: 41 })).toBe(3 + 16);
  });

  test('grows with every limit it counts', () => {
    const base = runTimeoutHours(24, builds);
    for (const key of Object.keys(builds) as Array<keyof typeof builds>) {
      expect({ key, grows: runTimeoutHours(24, { ...builds, [key]: builds[key] + 120 }) > base }).toEqual({ key, grows: true });
    }
    expect(runTimeoutHours(25, builds)).toBe(base + LONGEST_PATH.approvalWaits);
  });

  test('a cluster build is bounded by the rollout and helm test timeouts', () => {
    expect(clusterBuildMinutes({ rolloutTimeoutMinutes: 10, helmTestTimeoutMinutes: 10 })).toBe(40);
  });
});
