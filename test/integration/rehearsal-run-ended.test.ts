/**
 * Ends no Catch sees, rehearsed: the run is stopped (or times out) in the middle, and the real RunEnded function gets
 * the end as the EventBridge rule would deliver it. It must record the run, release the gateway's lock, tell
 * operators where the run stopped and what was applied, and report a Terraform lock the stopped build left, never
 * removing it. Before RunEnded, such a run left its lock behind, recorded nothing and told nobody.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport, type RehearsalResources } from '../rehearsal/harness';
import { dynamoDbClient, motoEndpoint, s3Client } from './support/aws-clients';
import { historyOf } from './support/deployments-table';

jest.setTimeout(180_000);

const prefix = `ended-${process.pid}-${Date.now().toString(36)}`;
const GATEWAY = 'gateway';
const STATE_KEY = `gateways/${GATEWAY}/terraform.tfstate`;
const LOCK_ID = '3f2b7c1e-9d4a-4e6b-8c2f-1a5d7e9b0c34';
let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-ended-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

const run = (name: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, name), prefix, ...options });
const bundle = (version: string, chartVersion?: string): Promise<string> => sampleBundleFile(workDir, version, { chartVersion });

const key = (sk: string) => ({ pk: { S: `GATEWAY#${GATEWAY}` }, sk: { S: sk } });
const item = async (r: RehearsalResources, sk: string) => (await dynamoDbClient().send(new GetItemCommand({ TableName: r.table, Key: key(sk), ConsistentRead: true }))).Item;

test('installed first, as every other test here builds on it', async () => {
  const report = await run('install', { bundlePath: await bundle('1.0.0') });
  expect(report.status).toBe('SUCCEEDED');
});

test('timed out after Apply: recorded as applied-not-verified, lock released, operators told; a Terraform lock seen then is not blamed on this run, and kept', async () => {
  // What Terraform's S3 backend (use_lockfile) leaves when its build is stopped mid-apply.
  const tflock = JSON.stringify({ ID: LOCK_ID, Operation: 'OperationTypeApply', Info: '', Who: 'root@codebuild', Version: '1.11.4', Created: new Date().toISOString(), Path: `x/${STATE_KEY}` });
  const report = await run('timed-out', {
    bundlePath: await bundle('1.1.0', '0.16.21'),
    endAt: {
      state: 'EvaluateVerification',
      status: 'TIMED_OUT',
      beforeEnd: async (r) => {
        await s3Client().send(new PutObjectCommand({ Bucket: r.stateBucket, Key: `${STATE_KEY}.tflock`, Body: tflock }));
      },
    },
  });
  expect(report.status).toBe('TIMED_OUT');
  expect(report.states.map((s) => s.name)).toContain('Apply');

  // The gateway's lock: released (before RunEnded, a new run had to take it over).
  expect(await item(report.resources, 'LOCK')).toBeUndefined();
  // The record: 1.1.0 is what the cluster runs, not verified; the run is in the history as failed.
  expect(await item(report.resources, 'CURRENT')).toMatchObject({ version: { S: '1.1.0' }, verification: { S: 'not verified: failed at EvaluateVerification (ExecutionTimedOut)' } });
  expect(await historyOf(report, GATEWAY)).toMatchObject({ outcome: 'failed', error: 'ExecutionTimedOut', toVersion: '1.1.0' });

  // One notice to operators, naming where it stopped, what was applied, both locks and what to do.
  const failures = report.notifications.filter((n) => n.subject.includes('deployment failed'));
  expect(failures.map((n) => n.subject)).toEqual(['Compute Gateway gateway: deployment failed at EvaluateVerification (ExecutionTimedOut)']);
  const notice = failures[0].message;
  expect(notice).toContain("the run exceeded the state machine's timeout of 87 h while in EvaluateVerification");
  expect(notice).toContain('Terraform applied the plan before the failure');
  expect(notice).toContain('1.1.0 is now recorded as the deployed version, not verified');
  expect(notice).toContain("The deployer's lock for this gateway was released");
  expect(notice).toContain('Start a new run rather than redriving this execution');
  // No Terraform build ran when the run stopped (Apply had finished): the lock is someone else's. A stop during a
  // Terraform build reports it with its command (test/unit/run-end.test.ts, and run-ended.test.ts with a real one).
  expect(notice).not.toContain(LOCK_ID);
  // Never removed by the deployer.
  const kept = await s3Client().send(new GetObjectCommand({ Bucket: report.resources.stateBucket, Key: `${STATE_KEY}.tflock` }));
  expect(await kept.Body!.transformToString()).toBe(tflock);
});

test('stopped by someone while waiting for approval: nothing applied, recorded, lock released, operators told who to ask', async () => {
  const report = await run('aborted', {
    bundlePath: await bundle('1.2.0', '0.16.22'),
    // The Terraform lock the test above left would stop this Plan (state-lock-held): the operator removed it, as told.
    beforeRun: async (r) => {
      await s3Client().send(new DeleteObjectCommand({ Bucket: r.stateBucket, Key: `${STATE_KEY}.tflock` }));
    },
    endAt: { state: 'RequestApproval', status: 'ABORTED' },
  });
  expect(report.status).toBe('ABORTED');
  expect(report.states.map((s) => s.name)).not.toContain('Apply');
  expect(await item(report.resources, 'LOCK')).toBeUndefined();
  // Still 1.1.0 from the run above: a stopped run before Apply changes no record of what is deployed.
  expect((await item(report.resources, 'CURRENT'))?.version?.S).toBe('1.1.0');
  expect(await historyOf(report, GATEWAY)).toMatchObject({ outcome: 'failed', error: 'ExecutionAborted', toVersion: '1.2.0' });
  const notice = report.notifications.find((n) => n.subject.includes('deployment failed'))!;
  expect(notice.subject).toBe('Compute Gateway gateway: deployment failed at RequestApproval (ExecutionAborted)');
  expect(notice.message).toContain('Nothing was applied.');
  expect(notice.message).toContain('CloudTrail names who stopped it');
});
