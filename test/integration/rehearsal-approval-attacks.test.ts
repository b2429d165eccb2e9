/**
 * The approval gate attacked end to end (the synthesized state machine, the real handlers and buildspecs, moto):
 * each attack is how the gate was found open before, and must now end the run FAILED with nothing applied,
 * operators told and the lock released.
 * - forged: the task token from the execution history sent back with SendTaskSuccess, no decision recorded.
 * - swapped-plan: while the run waits, its stored plan binary is replaced by another plan of the same workspace
 *   (the one an earlier run's operator rejected); the operator then approves what the request showed.
 * - a console input claiming to be an upload ("trigger": "s3") to reach auto-approval.
 * The tests run in order on one gateway.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport, type RehearsalResources } from '../rehearsal/harness';
import { dynamoDbClient, motoEndpoint, s3Client } from './support/aws-clients';

jest.setTimeout(180_000);

const prefix = `attacks-${process.pid}-${Date.now().toString(36)}`;
const GATEWAY = 'gateway';
const STATE_KEY = `gateways/${GATEWAY}/terraform.tfstate`;
let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-attacks-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

const run = (name: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, name), prefix, ...options });
const bundle = (version: string): Promise<string> => sampleBundleFile(workDir, version);
const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];

const lockItem = async (r: RehearsalResources) =>
  (await dynamoDbClient().send(new GetItemCommand({ TableName: r.table, Key: { pk: { S: `GATEWAY#${GATEWAY}` }, sk: { S: 'LOCK' } }, ConsistentRead: true }))).Item;
/** How many versions the Terraform state object has: an apply writes a new one. */
const stateVersions = async (r: RehearsalResources) =>
  ((await s3Client().send(new ListObjectVersionsCommand({ Bucket: r.stateBucket, Prefix: STATE_KEY }))).Versions ?? []).filter((v) => v.Key === STATE_KEY).length;

/** FAILED with `error`, no Apply, the lock released, and one failure notice naming the error. */
async function expectStoppedBeforeApply(report: RehearsalReport, error: string): Promise<string> {
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe(error);
  expect(report.states.filter((s) => s.name === 'Apply' && s.outcome === 'succeeded')).toEqual([]);
  expect(report.states.find((s) => s.name === 'ReleaseLock')?.outcome).toBe('succeeded');
  expect(await lockItem(report.resources)).toBeUndefined();
  const notices = report.notifications.filter((n) => n.subject.includes('deployment failed'));
  expect(notices).toHaveLength(1);
  expect(notices[0].subject).toContain(error);
  return notices[0].message;
}

test('forged: a SendTaskSuccess with the token from the history wakes the run, and CheckApproval ends it (ApprovalNotValid)', async () => {
  const report = await run('forged', { bundlePath: await bundle('1.0.0'), approve: 'forged' });
  const notice = await expectStoppedBeforeApply(report, 'ApprovalNotValid');
  expect(visited(report)).toEqual(expect.arrayContaining(['RequestApproval', 'CheckApproval', 'NotifyFailure']));
  expect(visited(report)).not.toContain('AfterApproval');
  expect(notice).toContain('no decision was recorded for this approval');
  // What the forged result said is dropped, so the notice does not think an approval happened.
  expect(report.notifications.find((n) => n.subject.includes('deployment failed'))!.subject).toContain('failed at RequestApproval');
  expect(notice).not.toContain('may have applied');
  expect(notice).toContain('Nothing was applied');
  expect(await stateVersions(report.resources)).toBe(0);
});

test('swapped-plan: the waiting plan binary replaced by a rejected plan is refused at Apply (PlanChanged), before terraform apply', async () => {
  // An earlier run whose plan the operator rejected: the "other plan of the same workspace".
  const rejected = await run('rejected', { bundlePath: await bundle('1.0.0'), approve: 'reject' });
  expect(rejected.error).toBe('ApprovalRejected');

  const report = await run('swapped', { bundlePath: await bundle('1.0.0'), approve: 'swapped-plan' });
  expect(report.status).toBe('FAILED');
  // The approval itself was valid (the operator approved the plan the request showed) ...
  expect(report.states.find((s) => s.name === 'CheckApproval')?.outcome).toBe('succeeded');
  // ... but the bytes under the key are no longer the approved version.
  expect(report.states.filter((s) => s.name === 'Apply').map((s) => s.outcome)).toContain('failed');
  expect(visited(report)).not.toContain('Verify');
  const notice = report.notifications.find((n) => n.subject.includes('deployment failed'))!;
  expect(notice.message).toContain('PlanChanged');
  expect(notice.message).toContain('was overwritten after the approval');
  expect(await lockItem(report.resources)).toBeUndefined();
  // Nothing was applied: no Terraform state was ever written for this gateway.
  expect(await stateVersions(report.resources)).toBe(0);
});

test('a console input claiming "trigger": "s3" to reach auto-approval is refused at Preflight (TriggerNotProven)', async () => {
  const report = await run('claimed-upload', {
    bundlePath: await bundle('1.0.0'),
    config: { ...EXAMPLE_CONFIG, approval: { ...EXAMPLE_CONFIG.approval, autoApproveS3Upgrades: true } },
    input: { version: '1.0.0', trigger: 's3' },
  });
  const notice = await expectStoppedBeforeApply(report, 'TriggerNotProven');
  expect(visited(report)).not.toContain('Plan');
  expect(notice).toContain('"s3" is set only by the release trigger');
});
