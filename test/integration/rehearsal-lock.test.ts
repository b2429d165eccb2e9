/**
 * One run per gateway, rehearsed: a start while another execution runs stops at AcquireLock and touches nothing;
 * a lock left by an execution that stopped is taken over, and released when that run fails; a duplicate S3 event
 * starts one run (here the gateway's first install).
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REHEARSAL_ACCOUNT, REHEARSAL_REGION } from '../rehearsal/template';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport, type RehearsalResources } from '../rehearsal/harness';
import { dynamoDbClient, listKeys, motoEndpoint } from './support/aws-clients';

jest.setTimeout(180_000);

let workDir: string;
const sfn = () => new SFNClient({ endpoint: motoEndpoint(), region: REHEARSAL_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-lock-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

/** The tests run in order on one gateway, as its operators would meet them. */
const run = (name: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, name), prefix: `lock-${process.pid}`, ...options });
const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];
const lockKey = { pk: { S: 'GATEWAY#gateway' }, sk: { S: 'LOCK' } };

/** An execution in the emulator that is RUNNING (moto leaves started executions running), or stopped. */
async function otherExecution(name: string, stopped: boolean): Promise<string> {
  const client = sfn();
  const machine = await client
    .send(
      new CreateStateMachineCommand({
        name: `other-${name}-${process.pid}`,
        roleArn: `arn:aws:iam::${REHEARSAL_ACCOUNT}:role/other`,
        definition: JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } } }),
      }),
    )
    .catch(async () => ({ stateMachineArn: `arn:aws:states:${REHEARSAL_REGION}:${REHEARSAL_ACCOUNT}:stateMachine:other-${name}-${process.pid}` }));
  const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: machine.stateMachineArn, name: `holder-${Date.now()}` }));
  if (stopped) await client.send(new StopExecutionCommand({ executionArn, error: 'Crashed', cause: 'rehearsed crash' }));
  client.destroy();
  return executionArn!;
}

async function seedLock(resources: RehearsalResources, executionArn: string): Promise<void> {
  await dynamoDbClient().send(
    new PutItemCommand({ TableName: resources.table, Item: { ...lockKey, executionArn: { S: executionArn }, acquiredAt: { S: '2026-11-25T08:00:00.000Z' } } }),
  );
}

const lockItem = async (resources: RehearsalResources) => (await dynamoDbClient().send(new GetItemCommand({ TableName: resources.table, Key: lockKey, ConsistentRead: true }))).Item;

test('a start while another run of the gateway is running fails fast and touches nothing', async () => {
  const holder = await otherExecution('running', false);
  const report = await run('running', { beforeRun: (r) => seedLock(r, holder) });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('DeploymentInProgress');
  expect(report.cause).toContain(`deployment in progress: ${holder}`);
  expect(visited(report)).toEqual(['ReceiveRequest', 'AcquireLock', 'LockHeld', 'NotifyFailure', 'ReleaseLock', 'RunOutcome', 'DeploymentFailed']);
  // The other run's lock is still its own, and no Terraform ran: the state bucket is empty.
  expect((await lockItem(report.resources))?.executionArn?.S).toBe(holder);
  expect(await listKeys(report.resources.stateBucket)).toEqual([]);
  expect(report.notifications.map((n) => n.subject)).toEqual(['Compute Gateway gateway: deployment failed at AcquireLock (DeploymentInProgress)']);
  expect(report.notifications[0].message).toContain(holder);
});

test('a lock left behind by an execution that stopped is taken over, the run goes on, and its failure releases the lock', async () => {
  const crashed = await otherExecution('stale', true);
  // Rejected at the approval: a run that got past the lock to a plan, and then failed.
  const report = await run('stale', { beforeRun: (r) => seedLock(r, crashed), approve: 'reject' });
  expect(report.states.find((s) => s.name === 'AcquireLock')?.outcome).toBe('succeeded');
  expect(visited(report)).toEqual(expect.arrayContaining(['Preflight', 'Plan', 'RequestApproval']));
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('ApprovalRejected');
  expect(visited(report)).toEqual(expect.arrayContaining(['NotifyFailure', 'ReleaseLock', 'DeploymentFailed']));
  expect(await lockItem(report.resources)).toBeUndefined();
});

test('the same S3 event delivered twice starts one run', async () => {
  const report = await run('duplicate', { trigger: 's3', deliveries: 2, bundlePath: await bundle('1.1.0') });
  // The second delivery lands on the same execution name: Step Functions starts no second run.
  expect(report.triggerDecisions).toEqual([`start ${report.executionName}`, `start ${report.executionName}`]);
  expect(report.executionName).toMatch(/^gateway-s3-1-1-0-[0-9a-f]{12}$/);
  expect(report.status).toBe('SUCCEEDED');
  const client = sfn();
  const { executions } = await client.send(new ListExecutionsCommand({ stateMachineArn: report.resources.stateMachineArn }));
  client.destroy();
  expect(executions!.filter((e) => e.name!.startsWith('gateway-s3-1-1-0-')).map((e) => e.name)).toEqual([report.executionName]);
});

const bundle = (version: string): Promise<string> => sampleBundleFile(workDir, version);
