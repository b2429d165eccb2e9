/**
 * AcquireLock for real against moto: the lock item in a pk/sk table, the holder's status from DescribeExecution
 * of a state machine created there. moto keeps a started execution RUNNING; StopExecution makes it ABORTED.
 */
import { GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import type { AcquireLockEvent, LockResult } from '../../lambdas/acquire-lock/acquire';
import { TEST_REGION, createTable, dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { captureConsole, destroyAdapterClients } from './support/handlers';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const TABLE = `gw-lock-${suffix}`;
const STARTED = '2024-06-01T08:00:00.000Z';
let sfn: SFNClient;
let ddb: ReturnType<typeof dynamoDbClient>;
let stateMachineArn: string;
let handler: (event: AcquireLockEvent) => Promise<LockResult>;
let lockTable: typeof import('../../lambdas/shared/adapters/lock-table');
let logLines: string[];
let gatewayCount = 0;

/** A gateway name of its own per test, so the tests share the table but never a lock item. */
const newGateway = () => `gw-lock-${++gatewayCount}`;

async function startExecution(name: string): Promise<string> {
  return (await sfn.send(new StartExecutionCommand({ stateMachineArn, name: `${name}-${suffix}` }))).executionArn!;
}

async function seedLock(gateway: string, executionArn: string, acquiredAt = STARTED): Promise<void> {
  await ddb.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'LOCK' }, executionArn: { S: executionArn }, acquiredAt: { S: acquiredAt } },
    }),
  );
}

async function lockItem(gateway: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `GATEWAY#${gateway}` }, sk: { S: 'LOCK' } }, ConsistentRead: true }))).Item;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeAll(async () => {
  sfn = new SFNClient({ endpoint: motoEndpoint(), region: TEST_REGION });
  ddb = dynamoDbClient();
  await createTable(TABLE);
  stateMachineArn = (
    await sfn.send(
      new CreateStateMachineCommand({
        name: `GatewayDeployment-lock-${suffix}`,
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
        definition: JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Pass', End: true } } }),
      }),
    )
  ).stateMachineArn!;
  // The handler reads its settings and builds its clients at import time, so it is imported only now.
  process.env.DEPLOYMENTS_TABLE = TABLE;
  process.env.POWERTOOLS_DEV = 'true';
  logLines = captureConsole();
  ({ handler } = await import('../../lambdas/acquire-lock/index'));
  lockTable = await import('../../lambdas/shared/adapters/lock-table');
});

afterAll(async () => {
  await destroyAdapterClients();
  sfn.destroy();
  ddb.destroy();
  jest.restoreAllMocks();
  delete process.env.DEPLOYMENTS_TABLE;
  delete process.env.POWERTOOLS_DEV;
});

test('moto keeps a started execution RUNNING and reports a stopped one ABORTED (what the cases below rely on)', async () => {
  const arn = await startExecution('probe');
  expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('RUNNING');
  await sfn.send(new StopExecutionCommand({ executionArn: arn }));
  expect((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).status).toBe('ABORTED');
});

test('a free lock is acquired: the item holds exactly our execution and the time', async () => {
  const gateway = newGateway();
  const me = await startExecution('free-me');
  const result = await handler({ gateway, executionArn: me, startTime: STARTED });
  expect(result).toEqual({ acquiredAt: expect.stringMatching(ISO) });
  expect(await lockItem(gateway)).toEqual({
    pk: { S: `GATEWAY#${gateway}` },
    sk: { S: 'LOCK' },
    executionArn: { S: me },
    acquiredAt: { S: result.acquiredAt },
  });
  expect(logLines.join('\n')).toContain('deployment lock acquired');
});

test('our own lock (AcquireLock retried): acquired again, no takeover, the time renewed', async () => {
  const gateway = newGateway();
  const me = await startExecution('retry-me');
  await seedLock(gateway, me);
  const result = await handler({ gateway, executionArn: me, startTime: STARTED });
  expect(result.tookOverFrom).toBeUndefined();
  expect((await lockItem(gateway))?.executionArn).toEqual({ S: me });
  expect((await lockItem(gateway))?.acquiredAt).toEqual({ S: result.acquiredAt });
  expect(result.acquiredAt).not.toBe(STARTED);
});

test('held by a RUNNING execution: rejected with DeploymentInProgress naming it; the item unchanged', async () => {
  const gateway = newGateway();
  const holder = await startExecution('running-holder');
  const me = await startExecution('running-me');
  await seedLock(gateway, holder);
  const before = await lockItem(gateway);

  const error = await handler({ gateway, executionArn: me, startTime: STARTED }).catch((e: unknown) => e as Error);
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).name).toBe('DeploymentInProgress');
  expect((error as Error).message).toBe(`deployment in progress: ${holder} (running since ${STARTED})`);
  expect(await lockItem(gateway)).toEqual(before);
  expect(before?.executionArn).toEqual({ S: holder });
});

test('held by a stopped (ABORTED) execution: taken over; the item is ours and the result names the old holder', async () => {
  const gateway = newGateway();
  const holder = await startExecution('aborted-holder');
  await sfn.send(new StopExecutionCommand({ executionArn: holder }));
  const me = await startExecution('aborted-me');
  await seedLock(gateway, holder);

  const result = await handler({ gateway, executionArn: me, startTime: STARTED });
  expect(result).toEqual({
    acquiredAt: expect.stringMatching(ISO),
    tookOverFrom: holder,
    tookOverBecause: `the lock holder ${holder} is ABORTED and never released the lock`,
  });
  expect(await lockItem(gateway)).toMatchObject({ executionArn: { S: me }, acquiredAt: { S: result.acquiredAt } });
  expect(logLines.join('\n')).toContain('took over a stale deployment lock');
});

test('held by an ARN Step Functions does not know (ExecutionDoesNotExist): taken over', async () => {
  const gateway = newGateway();
  const ghost = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:gone-${suffix}`;
  await expect(sfn.send(new DescribeExecutionCommand({ executionArn: ghost }))).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  const me = await startExecution('ghost-me');
  await seedLock(gateway, ghost);

  const result = await handler({ gateway, executionArn: me, startTime: STARTED });
  expect(result).toEqual({
    acquiredAt: expect.stringMatching(ISO),
    tookOverFrom: ghost,
    tookOverBecause: `the lock holder ${ghost} is unknown to Step Functions and never released the lock`,
  });
  expect((await lockItem(gateway))?.executionArn).toEqual({ S: me });
});

test('a second run while the first holds the lock: the first acquires, the second is refused', async () => {
  const gateway = newGateway();
  const first = await startExecution('pair-first');
  const second = await startExecution('pair-second');
  const acquired = await handler({ gateway, executionArn: first, startTime: STARTED });
  await expect(handler({ gateway, executionArn: second, startTime: STARTED })).rejects.toMatchObject({
    name: 'DeploymentInProgress',
    message: `deployment in progress: ${first} (running since ${acquired.acquiredAt})`,
  });
  expect((await lockItem(gateway))?.executionArn).toEqual({ S: first });
});

describe('lock-table adapter', () => {
  test('putLock replacing a holder: only while that holder still has the lock', async () => {
    const gateway = newGateway();
    await seedLock(gateway, 'arn:third');
    const me = { executionArn: 'arn:me', acquiredAt: '2024-06-01T10:00:00.000Z' };
    await expect(lockTable.putLock(TABLE, gateway, me, 'arn:stale')).resolves.toBe(false);
    expect((await lockItem(gateway))?.executionArn).toEqual({ S: 'arn:third' });
    await expect(lockTable.putLock(TABLE, gateway, me, 'arn:third')).resolves.toBe(true);
    expect((await lockItem(gateway))?.executionArn).toEqual({ S: 'arn:me' });
  });

  test('putLock without replacing: free or ours only', async () => {
    const gateway = newGateway();
    const me = { executionArn: 'arn:me', acquiredAt: '2024-06-01T10:00:00.000Z' };
    await expect(lockTable.putLock(TABLE, gateway, me)).resolves.toBe(true);
    await expect(lockTable.putLock(TABLE, gateway, { ...me, acquiredAt: '2024-06-01T11:00:00.000Z' })).resolves.toBe(true);
    await expect(lockTable.putLock(TABLE, gateway, { executionArn: 'arn:other', acquiredAt: '2024-06-01T12:00:00.000Z' })).resolves.toBe(false);
    await expect(lockTable.readLock(TABLE, gateway)).resolves.toEqual({ executionArn: 'arn:me', acquiredAt: '2024-06-01T11:00:00.000Z' });
  });

  test('readLock: null when there is no lock item', async () => {
    await expect(lockTable.readLock(TABLE, newGateway())).resolves.toBeNull();
  });

  test('deleteLock deletes only when the given execution holds the lock', async () => {
    const gateway = newGateway();
    await seedLock(gateway, 'arn:holder');
    await expect(lockTable.deleteLock(TABLE, gateway, 'arn:someone-else')).resolves.toBe(false);
    expect((await lockItem(gateway))?.executionArn).toEqual({ S: 'arn:holder' });
    await expect(lockTable.deleteLock(TABLE, gateway, 'arn:holder')).resolves.toBe(true);
    expect(await lockItem(gateway)).toBeUndefined();
    // Nothing left to delete: not ours either.
    await expect(lockTable.deleteLock(TABLE, gateway, 'arn:holder')).resolves.toBe(false);
  });

  test('a missing table is an error, not "lock taken"', async () => {
    await expect(lockTable.putLock(`${TABLE}-missing`, newGateway(), { executionArn: 'arn:me', acquiredAt: STARTED })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
