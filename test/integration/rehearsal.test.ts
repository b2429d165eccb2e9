/**
 * End to end: the rehearsal runs the synthesized state machine with the real handlers, buildspecs, terraform and
 * kubectl. The runs share one emulator namespace, as one gateway's history would: install, upgrade, then runs
 * that must stop. Every assertion is on the report (states, error, notifications) or on what AWS holds.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REHEARSAL_ACCOUNT } from '../rehearsal/template';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport } from '../rehearsal/harness';
import { renameEntry } from '../support/zip-fixtures';
import { dynamoDbClient, motoEndpoint } from './support/aws-clients';
import { listFiles } from '../support/files';

jest.setTimeout(180_000);

const prefix = `e2e-${process.pid}-${Date.now().toString(36)}`;
let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-e2e-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

/** A bundle of the sample module under a version, optionally with its chart version changed (a real upgrade). */
const bundle = (version: string, chartVersion?: string, mutate?: (zip: Buffer) => Buffer): Promise<string> =>
  sampleBundleFile(workDir, version, { chartVersion, mutate });

const run = (options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, `run-${Date.now()}`), prefix, ...options });

/** The values of the sample values secret that must never leave the state and the plan binary. */
const SECRETS = ['rehearsal-tenant-7f3a', 'rehearsal-client-5d1c', 'rehearsal-secret-9b2e', 'rehearsal-helm-user', 'rehearsal-helm-pass-3c8d'];

const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];

async function deployedVersion(): Promise<string | undefined> {
  const table = process.env.DEPLOYMENTS_TABLE!;
  const item = await dynamoDbClient().send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'GATEWAY#gateway' }, sk: { S: 'CURRENT' } } }));
  return item.Item?.version?.S;
}

test('first install: every state of the seed runs, support is asked for the smoke tests', async () => {
  const dumpDir = path.join(workDir, 'dump-install');
  const report = await run({ bundlePath: await bundle('1.0.0'), input: { version: '1.0.0', expectedAgentVersion: '1.0.0' }, dumpDir });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).toEqual([
    'ReceiveRequest',
    'AcquireLock',
    'Preflight',
    'RenderWorkspace',
    'Operation',
    'Plan',
    'AnalyzePlan',
    'ApprovalGate',
    'RequestApproval',
    'CheckApproval',
    'AfterApproval',
    'Apply',
    'Verify',
    'EvaluateVerification',
    'RecordDeployment',
    'NotifySuccess',
    'ReleaseLock',
    'RunOutcome',
    'Deployed',
  ]);
  expect(report.notifications.map((n) => [n.topic, n.subject])).toEqual([
    ['operators', expect.stringMatching(/^Compute Gateway gateway: approve install to 1\.0\.0\? Plan: \d+ to add, 0 to change, 0 to destroy\.$/)],
    ['operators', 'Compute Gateway gateway: installed 1.0.0, verified'],
    ['support', 'Compute Gateway gateway installed 1.0.0: please run the smoke tests'],
  ]);
  const support = report.notifications.find((n) => n.topic === 'support')!.message;
  expect(support).toContain('Agent version: 1.0.0, as communicated (1.0.0)');
  expect(support).toContain('Please confirm the completion and run the smoke tests');
  expect(await deployedVersion()).toBe('1.0.0');
  // A successful upgrade stays within the budget of state transitions (issue #7: at most 30).
  expect(report.states.filter((s) => s.outcome === 'succeeded').length).toBeLessThanOrEqual(30);

  // The dump holds everything the run left, and no value of the values secret outside the state and the plan.
  const files = await listFiles(dumpDir);
  expect(files).toEqual(expect.arrayContaining(['execution-history.json', 'notifications/03-support.txt', 'logs/handlers/preflight.log']));
  expect(files.filter((f) => f.startsWith('logs/builds/'))).toHaveLength(3);
  expect(files.some((f) => f.endsWith('/plan.json'))).toBe(true);
  for (const file of files.filter((f) => !f.endsWith('terraform.tfstate') && !f.endsWith('/tfplan') && !f.endsWith('.zip'))) {
    const text = await fs.promises.readFile(path.join(dumpDir, file), 'utf-8');
    for (const secret of SECRETS) expect({ file, leaked: text.includes(secret) }).toEqual({ file, leaked: false });
  }
});

test('upgrade to a newer bundle in the same state: an in-place update, applied and verified', async () => {
  const report = await run({ bundlePath: await bundle('1.1.0', '0.16.21'), input: { version: '1.1.0', expectedAgentVersion: '1.1.0' } });
  expect(report.status).toBe('SUCCEEDED');
  const approval = report.notifications.find((n) => n.subject.includes('approve'))!;
  expect(approval.subject).toContain('approve upgrade to 1.1.0? Plan: 0 to add, 1 to change, 0 to destroy.');
  expect(approval.message).toContain('Gateway gateway: upgrade 1.0.0 → 1.1.0 waits for your approval.');
  expect(report.notifications.find((n) => n.topic === 'support')!.subject).toBe('Compute Gateway gateway upgraded to 1.1.0: please run the smoke tests');
  expect(await deployedVersion()).toBe('1.1.0');
});

test('a rejected plan: nothing is applied, operators are told, the deployed version stays', async () => {
  const report = await run({ bundlePath: await bundle('1.2.0', '0.16.22'), approve: 'reject' });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('ApprovalRejected');
  expect(visited(report)).not.toContain('Apply');
  const failure = report.notifications.find((n) => n.subject.includes('failed'))!;
  expect(failure.subject).toBe('Compute Gateway gateway: deployment failed at RequestApproval (ApprovalRejected)');
  expect(failure.message).toContain('Nothing was applied.');
  expect(await deployedVersion()).toBe('1.1.0');
});

test('a bad bundle is refused at Preflight: no plan, no approval request, a named error', async () => {
  const evil = await bundle('1.3.0', undefined, (zip) => zip);
  const zip = await fs.promises.readFile(evil);
  // Same-length rename of an existing entry to one that escapes the module folder.
  await fs.promises.writeFile(evil, renameEntry(zip, 'CHANGELOG.md', '../evilxx.tf'));
  const report = await run({ bundlePath: evil });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('BundleError');
  expect(visited(report)).toEqual(['ReceiveRequest', 'AcquireLock', 'Preflight', 'NotifyFailure', 'ReleaseLock', 'RunOutcome', 'DeploymentFailed']);
  expect(report.notifications).toHaveLength(1);
  expect(report.notifications[0].message).toContain('gateway-1.3.0.zip: unsafe entry');
  expect(report.notifications[0].message).toContain(`arn:aws:states:eu-central-1:${REHEARSAL_ACCOUNT}:execution:GatewayDeployment-gateway:`);
});

test('--trigger s3: an uploaded newer bundle starts its own run through the release trigger', async () => {
  // The chart deployed by the upgrade above: nothing to apply, so the run is short.
  const bundlePath = await bundle('1.2.1', '0.16.21');
  const sha256 = createHash('sha256').update(await fs.promises.readFile(bundlePath)).digest('hex');
  // What the vendor communicated, attached by the uploader: the run checks both (the stand-in cluster runs agent 1.2.1).
  const report = await run({ bundlePath, trigger: 's3', uploadMetadata: { 'expected-agent-version': '1.2.1', sha256 } });
  expect(report.status).toBe('SUCCEEDED');
  const success = report.notifications.find((n) => n.subject.includes('verified'))!;
  expect(success.message).toContain('Agent version: 1.2.1, as communicated (1.2.1)');
  expect(success.message).not.toContain('not compared');
  expect(report.executionName).toMatch(/^gateway-s3-1-2-1-[0-9a-f]{12}$/);
  // Verified all the same, reaching the cluster through the plan's outputs (no Apply report).
  expect(visited(report)).toEqual(expect.arrayContaining(['NothingToApply', 'Verify', 'RecordDeployment']));
  expect(visited(report)).not.toContain('Apply');
  expect(await deployedVersion()).toBe('1.2.1');
});

test.each([
  ['a pre-release', '1.3.0-rc.1', 'is a pre-release, which an upload does not start'],
  ['a mistaken gateway-999.0.0.zip', '999.0.0', 'so it waits for an operator'],
])('--trigger s3: %s starts nothing, and operators hear why and how to start it by hand', async (_, version, says) => {
  const report = await run({ bundlePath: await bundle(version, '0.16.30'), trigger: 's3' });
  expect(report.status).toBe('NOT_STARTED');
  expect(report.notifications.map((n) => n.subject)).toEqual([`Compute Gateway gateway: upload of ${version} did not start an upgrade`]);
  expect(report.notifications[0].message).toContain(says);
  expect(report.notifications[0].message).toContain(`npx gateway-deployer start --version ${version}`);
  expect(await deployedVersion()).toBe('1.2.1');
});

test('--trigger s3: an upload older than the deployed version starts nothing, and operators hear why', async () => {
  const report = await run({ bundlePath: await bundle('1.2.0', '0.16.22'), trigger: 's3' });
  expect(report.status).toBe('NOT_STARTED');
  expect(report.error).toBe('ReleaseTrigger:skip');
  expect(report.states).toEqual([]);
  expect(report.notifications.map((n) => n.subject)).toEqual(['Compute Gateway gateway: upload of 1.2.0 did not start an upgrade']);
  expect(await deployedVersion()).toBe('1.2.1');
});
