/**
 * Faults, rehearsed (issue #7, item 4): CodeBuild refusing to start, AWS unreachable for a moment, an apply that
 * fails half-way, an approval nobody gives, a failed verification, a Terraform state lock held by someone else.
 * Each test runs the synthesized state machine with the real handlers and buildspecs and asserts the END STATE:
 * the run's status, the lock item, the Terraform state, the deployed version, the history and what operators
 * were told. The tests run in order on one gateway, as its operators would meet them.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { TRANSIENT_CODEBUILD_ERRORS, TRANSIENT_SDK_ERRORS } from '../../lib/constructs/workflow';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport, type RehearsalResources } from '../rehearsal/harness';
import { dynamoDbClient, motoEndpoint, s3Client } from './support/aws-clients';
import { historyOf } from './support/deployments-table';

jest.setTimeout(180_000);

const prefix = `faults-${process.pid}-${Date.now().toString(36)}`;
const GATEWAY = 'gateway';
/** Where RenderWorkspace's backend.tf.json keeps the gateway's state (the config sets no backend key). */
const STATE_KEY = `gateways/${GATEWAY}/terraform.tfstate`;
let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-faults-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

const run = (name: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, name), prefix, ...options });

/** The sample module under a version, with its pinned chart version changed: a real upgrade. */
const bundle = (version: string, chartVersion?: string): Promise<string> => sampleBundleFile(workDir, version, { chartVersion });

const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];
/** A state's outcomes in order; a caught failure also exits the state (into the Catch's next state). */
const outcomes = (report: RehearsalReport, state: string) => report.states.filter((s) => s.name === state).map((s) => s.outcome);
const errorsOf = (report: RehearsalReport, state: string) => report.states.filter((s) => s.name === state && s.error).map((s) => s.error);
const failureNotice = (report: RehearsalReport) => {
  const notices = report.notifications.filter((n) => n.subject.includes('deployment failed'));
  expect(notices).toHaveLength(1);
  return notices[0];
};

const key = (sk: string) => ({ pk: { S: `GATEWAY#${GATEWAY}` }, sk: { S: sk } });
const lockItem = async (r: RehearsalResources) => (await dynamoDbClient().send(new GetItemCommand({ TableName: r.table, Key: key('LOCK'), ConsistentRead: true }))).Item;
const currentItem = async (r: RehearsalResources) => (await dynamoDbClient().send(new GetItemCommand({ TableName: r.table, Key: key('CURRENT'), ConsistentRead: true }))).Item;
const deployedVersion = async (r: RehearsalResources) => (await currentItem(r))?.version?.S;

async function object(bucket: string, objectKey: string): Promise<{ text: string; versionId?: string; etag?: string } | undefined> {
  try {
    const out = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
    return { text: await out.Body!.transformToString('utf-8'), versionId: out.VersionId, etag: out.ETag };
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return undefined;
    throw e;
  }
}

interface TerraformState {
  lineage: string;
  serial: number;
  resources: Array<{ module?: string; mode: string; type: string; name: string; instances: Array<{ index_key?: number | string; status?: string }> }>;
}

/** Resource instance addresses of a state, with ` (tainted)` after those Terraform marked so. */
function addresses(state: TerraformState): string[] {
  return state.resources
    .filter((r) => r.mode === 'managed')
    .flatMap((r) =>
      r.instances.map((i) => {
        const index = i.index_key === undefined ? '' : typeof i.index_key === 'number' ? `[${i.index_key}]` : `["${i.index_key}"]`;
        return `${r.module ? `${r.module}.` : ''}${r.type}.${r.name}${index}${i.status === 'tainted' ? ' (tainted)' : ''}`;
      }),
    )
    .sort();
}

test('the retried errors are the ones the faults below raise', () => {
  // If these lists lose a name, the rehearsals below would fail for that reason first: said here plainly.
  expect(TRANSIENT_CODEBUILD_ERRORS).toContain('CodeBuild.AccountLimitExceededException');
  expect(TRANSIENT_SDK_ERRORS).toEqual(expect.arrayContaining(['ThrottlingException', 'TransientAwsError']));
});

test('CodeBuild refuses to start the plan once, Preflight is throttled once, AWS is unreachable for a moment: all retried, the install succeeds', async () => {
  const dumpDir = path.join(workDir, 'dump-transient');
  const report = await run('transient', {
    bundlePath: await bundle('1.0.0'),
    faults: {
      transient: { Plan: 'CodeBuild.AccountLimitExceededException', Preflight: 'ThrottlingException' },
      unreachable: ['RenderWorkspace', 'RecordDeployment'],
    },
    dumpDir,
  });
  expect(report.status).toBe('SUCCEEDED');
  expect(outcomes(report, 'Plan')).toEqual(['failed', 'retried', 'succeeded']);
  expect(errorsOf(report, 'Plan')).toEqual(['CodeBuild.AccountLimitExceededException']);
  expect(outcomes(report, 'Preflight')).toEqual(['failed', 'retried', 'succeeded']);
  expect(errorsOf(report, 'Preflight')).toEqual(['ThrottlingException']);
  for (const state of ['RenderWorkspace', 'RecordDeployment']) {
    expect({ state, outcomes: outcomes(report, state), errors: errorsOf(report, state) }).toEqual({
      state,
      outcomes: ['failed', 'retried', 'succeeded'],
      errors: ['TransientAwsError'],
    });
  }
  // A real refused connection, after the SDK's own retries, named so that the state's Retry knows it.
  const history = JSON.parse(await fs.promises.readFile(path.join(dumpDir, 'execution-history.json'), 'utf-8')) as Array<{ type: string; state?: { name: string }; Cause?: string }>;
  const failed = history.filter((e) => e.type === 'StateFailed');
  expect(failed.map((e) => e.state?.name)).toEqual(['Preflight', 'RenderWorkspace', 'Plan', 'RecordDeployment']);
  const refused = failed.filter((e) => ['RenderWorkspace', 'RecordDeployment'].includes(e.state!.name));
  for (const e of refused) expect(JSON.parse(e.Cause!).errorMessage).toMatch(/got no response from AWS \(ECONNREFUSED\): connect ECONNREFUSED 127\.0\.0\.1:\d+/);
  // The refused start ran nothing: Plan, Apply and Verify, one build each, as in any install.
  expect(await fs.promises.readdir(path.join(workDir, 'transient', 'builds'))).toHaveLength(3);
  expect(report.notifications.map((n) => n.subject)).toEqual([
    expect.stringMatching(/approve install to 1\.0\.0\?/),
    'Compute Gateway gateway: installed 1.0.0, verified',
    'Compute Gateway gateway installed 1.0.0: please run the smoke tests',
  ]);
  expect(await deployedVersion(report.resources)).toBe('1.0.0');
  expect((await historyOf(report, GATEWAY))?.outcome).toBe('succeeded');
  expect(await lockItem(report.resources)).toBeUndefined();
});

test('an apply that fails half-way: operators told, lock released, state intact with what was created, deployed version unchanged', async () => {
  const before = JSON.parse((await object(process.env.STATE_BUCKET!, STATE_KEY))!.text) as TerraformState;
  // The GPU plugin is new in this plan; the sample module's simulate_apply_error fails the apply as a provider would.
  const error = 'creating EKS Node Group (gateway-gpu): ResourceLimitExceeded: node group quota reached';
  const config = { ...EXAMPLE_CONFIG, module: { ...EXAMPLE_CONFIG.module, enable_nvidia_gpu: true, extra_inputs: { simulate_apply_error: error } } };
  const report = await run('apply-fails', { config, bundlePath: await bundle('1.2.0', '0.16.22') });

  expect(report.status).toBe('FAILED');
  expect(outcomes(report, 'Apply')).toEqual(['failed', 'caught', 'succeeded']);
  expect(visited(report)).toEqual(expect.arrayContaining(['DiagnoseApplyFailure', 'Remediable', 'ApplyFailed', 'NotifyFailure', 'ReleaseLock', 'DeploymentFailed']));
  expect(visited(report)).not.toContain('Verify');
  const notice = failureNotice(report);
  expect(notice.subject).toBe('Compute Gateway gateway: deployment failed at Apply (States.TaskFailed)');
  expect(notice.message).toContain('failed at step Apply');
  expect(notice.message).toContain('Terraform may have applied part of the plan before it failed; the state in the state bucket records what was done.');
  expect(notice.message).toMatch(/Log: CloudWatch log group \/rehearsal\/codebuild\/\S+, stream \S+/);

  expect(await lockItem(report.resources)).toBeUndefined();
  // The state is the same state (lineage), one write further, and holds what the apply did before it failed.
  const after = JSON.parse((await object(report.resources.stateBucket, STATE_KEY))!.text) as TerraformState;
  expect(after.lineage).toBe(before.lineage);
  expect(after.serial).toBeGreaterThan(before.serial);
  expect(addresses(after)).toEqual(
    expect.arrayContaining([
      ...addresses(before),
      'module.gateway.terraform_data.nvidia_device_plugin[0]',
      'module.gateway.terraform_data.simulated_failure[0] (tainted)',
    ]),
  );
  expect(addresses(before)).not.toContain('module.gateway.terraform_data.nvidia_device_plugin[0]');
  expect(await deployedVersion(report.resources)).toBe('1.0.0');
  expect(await historyOf(report, GATEWAY)).toMatchObject({ outcome: 'failed', failedStep: 'Apply', toVersion: '1.2.0' });
});

test('nobody answers the approval in time: ApprovalTimedOut, nothing applied, lock released', async () => {
  const before = await object(process.env.STATE_BUCKET!, STATE_KEY);
  const report = await run('approval-timeout', { bundlePath: await bundle('1.3.0', '0.16.23'), approve: 'timeout' });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('ApprovalTimedOut');
  expect(visited(report)).toEqual(expect.arrayContaining(['RequestApproval', 'ApprovalTimedOut', 'NotifyFailure', 'ReleaseLock', 'DeploymentFailed']));
  expect(visited(report)).not.toContain('Apply');
  const notice = failureNotice(report);
  expect(notice.subject).toBe('Compute Gateway gateway: deployment failed at RequestApproval (ApprovalTimedOut)');
  expect(notice.message).toContain('Nothing was applied.');
  // Nothing applied: the state object is the very same version.
  expect(await object(report.resources.stateBucket, STATE_KEY)).toEqual(before);
  expect(await lockItem(report.resources)).toBeUndefined();
  expect(await deployedVersion(report.resources)).toBe('1.0.0');
  expect(await historyOf(report, GATEWAY)).toMatchObject({ outcome: 'failed', error: 'ApprovalTimedOut' });
});

test('verification fails (another agent version, failed connectivity tests): the run fails at EvaluateVerification naming both, lock released, history records the failure', async () => {
  const report = await run('verify-fails', {
    bundlePath: await bundle('1.3.0', '0.16.23'),
    connectivity: 'fail',
    agentVersion: '1.2.9',
    input: { version: '1.3.0', expectedAgentVersion: '1.3.0' },
  });
  expect(report.status).toBe('FAILED');
  expect(report.error).toBe('VerificationError');
  expect(outcomes(report, 'Verify')).toEqual(['succeeded']);
  expect(outcomes(report, 'EvaluateVerification')).toEqual(['failed', 'caught', 'succeeded']);
  expect(visited(report)).not.toContain('RecordDeployment');
  const notice = failureNotice(report);
  expect(notice.subject).toBe('Compute Gateway gateway: deployment failed at EvaluateVerification (VerificationError)');
  expect(notice.message).toContain('agent version mismatch: expected 1.3.0, running 1.2.9');
  expect(notice.message).toContain('the connectivity tests did not pass: connectivity test pod Failed');
  expect(notice.message).toContain('Terraform applied the plan before the failure');
  expect(await lockItem(report.resources)).toBeUndefined();
  expect(await historyOf(report, GATEWAY)).toMatchObject({ outcome: 'failed', failedStep: 'EvaluateVerification', error: 'VerificationError', toVersion: '1.3.0' });
  // Applied but not verified (issue #18, finding 1): the cluster runs 1.3.0 now, and CURRENT says so, unverified.
  expect(await deployedVersion(report.resources)).toBe('1.3.0');
  expect(await currentItem(report.resources)).toMatchObject({ verification: { S: 'not verified: failed at EvaluateVerification (VerificationError)' } });
  expect(notice.message).toContain('1.3.0 is now recorded as the deployed version, not verified');
});

test('after the unverified 1.3.0, runs compare against it: going back to 1.0.0 is a downgrade however it is asked, and a drift check plans 1.3.0', async () => {
  // The old answer to this finding advised `--version 1.0.0 --allow-redeploy`: a downgrade passed as a redeploy.
  const back = await run('back-to-1.0.0', { bundlePath: await bundle('1.0.0'), input: { version: '1.0.0', allowRedeploy: true } });
  expect(back.status).toBe('FAILED');
  expect(back.error).toBe('VersionError');
  expect(JSON.parse(back.cause!).errorMessage).toBe('gateway 1.0.0 is older than the deployed 1.3.0; a downgrade needs "allowDowngrade": true in the input');

  const drift = await run('drift-after-unverified', { bundlePath: await bundle('1.3.0', '0.16.23'), input: { operation: 'drift-check' } });
  expect(drift.status).toBe('SUCCEEDED');
  // The applied module and chart planned again: nothing differs, so nothing is told and no downgrade is advised.
  expect(drift.notifications).toEqual([]);
  expect(await deployedVersion(drift.resources)).toBe('1.3.0');
});

test("the Terraform state lock is held by someone else: Plan fails with the lock advice, our lock is released, theirs is left alone", async () => {
  const lockKey = `${STATE_KEY}.tflock`;
  // What Terraform's S3 backend (use_lockfile) writes next to the state while another terraform holds it.
  const theirs = JSON.stringify({
    ID: '5e1b0c7a-6f2d-4b8e-9a41-3c2f7d9e8b10',
    Operation: 'OperationTypeApply',
    Info: '',
    Who: 'alice@laptop',
    Version: '1.11.4',
    Created: new Date().toISOString(),
    Path: `${process.env.STATE_BUCKET}/${STATE_KEY}`,
  });
  let seeded: { text: string; versionId?: string; etag?: string } | undefined;
  const stateBefore = await object(process.env.STATE_BUCKET!, STATE_KEY);
  try {
    const report = await run('state-lock', {
      bundlePath: await bundle('1.4.0', '0.16.24'),
      beforeRun: async (r) => {
        await s3Client().send(new PutObjectCommand({ Bucket: r.stateBucket, Key: lockKey, Body: theirs, ContentType: 'application/json' }));
        seeded = await object(r.stateBucket, lockKey);
      },
    });
    expect(report.status).toBe('FAILED');
    expect(outcomes(report, 'Plan')).toEqual(['failed', 'caught', 'succeeded']);
    expect(visited(report)).not.toContain('AnalyzePlan');
    const notice = failureNotice(report);
    expect(notice.subject).toBe('Compute Gateway gateway: deployment failed at Plan (States.TaskFailed)');
    const expected = diagnoseTerraformFailure('Error: Error acquiring the state lock\n\nLock Info:\n  ID: x');
    expect(expected.failure).toBe('state-lock-held');
    expect(notice.message).toContain(expected.summary);
    expect(notice.message).toContain(`What to do: ${expected.advice}`);
    expect(notice.message).toContain('Nothing was applied.');
    // Ours released; theirs untouched (same version, same body); the state not written.
    expect(await lockItem(report.resources)).toBeUndefined();
    expect(seeded?.text).toBe(theirs);
    expect(await object(report.resources.stateBucket, lockKey)).toEqual(seeded);
    expect(await object(report.resources.stateBucket, STATE_KEY)).toEqual(stateBefore);
    const build = (await fs.promises.readdir(path.join(workDir, 'state-lock', 'builds')))[0];
    expect(await fs.promises.readFile(path.join(workDir, 'state-lock', 'builds', build, 'build.log'), 'utf-8')).toContain('alice@laptop');
    expect(await deployedVersion(report.resources)).toBe('1.3.0');
  } finally {
    // Someone else's lock in real life; here the test's own, removed so a rerun of the file starts clean.
    await s3Client().send(new DeleteObjectCommand({ Bucket: process.env.STATE_BUCKET!, Key: lockKey }));
  }
});
