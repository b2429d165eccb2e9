/**
 * One run per gateway: the lock decision, and AcquireLock against a fake lock table that applies the same
 * conditions as the DynamoDB adapter (free or ours; or, when replacing, still held by exactly that execution).
 */
import { acquireLock, type AcquireLockEvent, type LockPorts } from '../../lambdas/acquire-lock/acquire';
import { DeploymentError } from '../../lambdas/shared/domain/errors';
import { DeploymentInProgress, LOCK_SORT_KEY, decideOnHeldLock, type ExecutionStatus, type LockHolder } from '../../lambdas/shared/domain/lock';

const SM = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod';
const ME = `${SM}:run-me`;
const OTHER = `${SM}:run-other`;
const THIRD = `${SM}:run-third`;
const NOW = new Date('2024-06-01T10:30:00.000Z');
const EARLIER = '2024-06-01T08:00:00.000Z';
const EVENT: AcquireLockEvent = { gateway: 'gw-prod', executionArn: ME, startTime: '2024-06-01T10:29:59.000Z' };

const held = (executionArn: string, acquiredAt = EARLIER): LockHolder => ({ executionArn, acquiredAt });

type Call = { op: 'put'; holder: LockHolder; replacing?: string; ok: boolean } | { op: 'read'; result: LockHolder | null } | { op: 'status'; arn: string };

/**
 * A lock item in memory. `statuses` answers DescribeExecution (unknown ARNs are MISSING); `beforePut` and
 * `beforeRead` let a test change the item between the calls, as another execution would.
 */
function fakeTable(
  initial: LockHolder | null,
  opts: {
    statuses?: Record<string, ExecutionStatus>;
    beforePut?: (n: number, table: { item: LockHolder | null }) => void;
    beforeRead?: (n: number, table: { item: LockHolder | null }) => void;
  } = {},
) {
  const table = { item: initial };
  const calls: Call[] = [];
  let puts = 0;
  let reads = 0;
  const ports: LockPorts = {
    async put(holder, replacing) {
      opts.beforePut?.(++puts, table);
      const ok = replacing ? table.item?.executionArn === replacing : table.item === null || table.item.executionArn === holder.executionArn;
      if (ok) table.item = holder;
      calls.push({ op: 'put', holder, ...(replacing ? { replacing } : {}), ok });
      return ok;
    },
    async read() {
      opts.beforeRead?.(++reads, table);
      const result = table.item;
      calls.push({ op: 'read', result });
      return result;
    },
    async executionStatus(arn) {
      calls.push({ op: 'status', arn });
      return opts.statuses?.[arn] ?? 'MISSING';
    },
  };
  return { ports, table, calls, puts: () => calls.filter((c) => c.op === 'put') };
}

const mine = held(ME, NOW.toISOString());

describe('decideOnHeldLock', () => {
  test('held by a running execution: refuse, naming it and since when', () => {
    expect(decideOnHeldLock(held(OTHER), 'RUNNING', ME)).toEqual({
      action: 'refuse',
      message: `deployment in progress: ${OTHER} (running since ${EARLIER})`,
    });
  });

  test.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'PENDING_REDRIVE'] as const)('holder %s: take over, saying why', (status) => {
    expect(decideOnHeldLock(held(OTHER), status, ME)).toEqual({
      action: 'take-over',
      reason: `the lock holder ${OTHER} is ${status} and never released the lock`,
    });
  });

  test('holder unknown to Step Functions: take over', () => {
    expect(decideOnHeldLock(held(OTHER), 'MISSING', ME)).toEqual({
      action: 'take-over',
      reason: `the lock holder ${OTHER} is unknown to Step Functions and never released the lock`,
    });
  });

  test('held by this very execution (a retried AcquireLock): never refuse itself, although it is RUNNING', () => {
    expect(decideOnHeldLock(held(ME), 'RUNNING', ME)).toEqual({ action: 'take-over', reason: 'this execution already holds the lock (a retried AcquireLock)' });
  });

  test('the lock item\'s sort key', () => {
    expect(LOCK_SORT_KEY).toBe('LOCK');
  });
});

describe('DeploymentInProgress', () => {
  test('a domain error named for the state machine\'s Catch, not retried', () => {
    const error = new DeploymentInProgress('deployment in progress: x');
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.name).toBe('DeploymentInProgress');
    expect(error.retryable).toBe(false);
  });
});

describe('acquireLock', () => {
  test('a free lock: one conditional put of this execution, nothing read or described', async () => {
    const fake = fakeTable(null);
    await expect(acquireLock(EVENT, fake.ports, () => NOW)).resolves.toEqual({ acquiredAt: '2024-06-01T10:30:00.000Z' });
    expect(fake.calls).toEqual([{ op: 'put', holder: mine, ok: true }]);
    expect(fake.table.item).toEqual(mine);
  });

  test('our own lock (AcquireLock retried after its write): the put succeeds again, no takeover', async () => {
    const fake = fakeTable(held(ME), { statuses: { [ME]: 'RUNNING' } });
    const result = await acquireLock(EVENT, fake.ports, () => NOW);
    expect(result).toEqual({ acquiredAt: NOW.toISOString() });
    expect(fake.calls).toEqual([{ op: 'put', holder: mine, ok: true }]);
    expect(fake.table.item).toEqual(mine);
  });

  test('our own lock, should the first put not match it: taken back, never refused although we are RUNNING', async () => {
    const fake = fakeTable(held(ME), { statuses: { [ME]: 'RUNNING' } });
    const strict: LockPorts = { ...fake.ports, put: (holder, replacing) => (replacing ? fake.ports.put(holder, replacing) : Promise.resolve(false)) };
    const result = await acquireLock(EVENT, strict, () => NOW);
    expect(result).toMatchObject({ acquiredAt: NOW.toISOString(), tookOverBecause: 'this execution already holds the lock (a retried AcquireLock)' });
    expect(fake.table.item).toEqual(mine);
  });

  test('held by a RUNNING execution: DeploymentInProgress naming it, no second put, the item unchanged', async () => {
    const fake = fakeTable(held(OTHER), { statuses: { [OTHER]: 'RUNNING' } });
    const error = await acquireLock(EVENT, fake.ports, () => NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeploymentInProgress);
    expect((error as Error).name).toBe('DeploymentInProgress');
    expect((error as Error).message).toBe(`deployment in progress: ${OTHER} (running since ${EARLIER})`);
    expect(fake.calls).toEqual([
      { op: 'put', holder: mine, ok: false },
      { op: 'read', result: held(OTHER) },
      { op: 'status', arn: OTHER },
    ]);
    expect(fake.table.item).toEqual(held(OTHER));
  });

  test.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'MISSING', 'PENDING_REDRIVE'] as const)(
    'holder %s: taken over with a put conditional on that holder',
    async (status) => {
      const fake = fakeTable(held(OTHER), { statuses: status === 'MISSING' ? {} : { [OTHER]: status } });
      const result = await acquireLock(EVENT, fake.ports, () => NOW);
      const why = status === 'MISSING' ? 'is unknown to Step Functions' : `is ${status}`;
      expect(result).toEqual({
        acquiredAt: NOW.toISOString(),
        tookOverFrom: OTHER,
        tookOverBecause: `the lock holder ${OTHER} ${why} and never released the lock`,
      });
      expect(fake.calls).toEqual([
        { op: 'put', holder: mine, ok: false },
        { op: 'read', result: held(OTHER) },
        { op: 'status', arn: OTHER },
        { op: 'put', holder: mine, replacing: OTHER, ok: true },
      ]);
      expect(fake.table.item).toEqual(mine);
    },
  );

  test('takeover race lost to a run that is now RUNNING: refused, naming the winner', async () => {
    // Between our read of the stale holder and our replacing put, THIRD takes the lock over first.
    const fake = fakeTable(held(OTHER), {
      statuses: { [OTHER]: 'FAILED', [THIRD]: 'RUNNING' },
      beforePut: (n, table) => {
        if (n === 2) table.item = held(THIRD, '2024-06-01T10:29:59.500Z');
      },
    });
    const error = await acquireLock(EVENT, fake.ports, () => NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeploymentInProgress);
    expect((error as Error).message).toBe(`deployment in progress: ${THIRD} (running since 2024-06-01T10:29:59.500Z)`);
    expect(fake.puts()).toEqual([
      { op: 'put', holder: mine, ok: false },
      { op: 'put', holder: mine, replacing: OTHER, ok: false },
      { op: 'put', holder: mine, ok: false },
    ]);
    expect(fake.table.item).toEqual(held(THIRD, '2024-06-01T10:29:59.500Z'));
  });

  test('the lock changes hands in both rounds: refused after two rounds, naming the last holder', async () => {
    // Every replacing put loses: the holder read just before is replaced by another stale one.
    let n = 0;
    const fake = fakeTable(held(OTHER), {
      beforePut: (_, table) => {
        if (table.item && table.item.executionArn !== ME) table.item = held(`${SM}:stale-${++n}`);
      },
    });
    const error = await acquireLock(EVENT, fake.ports, () => NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeploymentInProgress);
    expect((error as Error).message).toBe(`deployment in progress: ${SM}:stale-4 (the lock changed hands while this run tried to take it)`);
    expect(fake.puts()).toHaveLength(4);
    expect(fake.table.item?.executionArn).not.toBe(ME);
  });

  test('the lock released between our put and our read: the second round acquires it', async () => {
    const fake = fakeTable(held(OTHER), {
      statuses: { [OTHER]: 'RUNNING' },
      // OTHER finishes and releases the lock between our failed put and our read.
      beforeRead: (n, table) => {
        if (n === 1) table.item = null;
      },
    });
    await expect(acquireLock(EVENT, fake.ports, () => NOW)).resolves.toEqual({ acquiredAt: NOW.toISOString() });
    expect(fake.calls).toEqual([
      { op: 'put', holder: mine, ok: false },
      { op: 'read', result: null },
      { op: 'put', holder: mine, ok: true },
    ]);
    expect(fake.table.item).toEqual(mine);
  });

  test('every put finds the lock taken and every read finds it free: refused after two rounds, "another execution"', async () => {
    // Short runs keep taking and releasing the lock between our calls.
    const ports: LockPorts = {
      put: async () => false,
      read: async () => null,
      executionStatus: async () => {
        throw new Error('not expected: no holder was read');
      },
    };
    const error = await acquireLock(EVENT, ports, () => NOW).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeploymentInProgress);
    expect((error as Error).message).toBe('deployment in progress: another execution (the lock changed hands while this run tried to take it)');
  });

  test('a failing DescribeExecution is not a reason to take over: the error surfaces and the lock stays', async () => {
    const fake = fakeTable(held(OTHER));
    const failing: LockPorts = { ...fake.ports, executionStatus: async () => Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })) };
    await expect(acquireLock(EVENT, failing, () => NOW)).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(fake.puts()).toHaveLength(1);
    expect(fake.table.item).toEqual(held(OTHER));
  });
});
