/**
 * Ends no Catch sees (timed out, stopped, failed outside the failure path): the domain rules, and RunEnded with
 * fake ports. The real Terraform lock file and the real tables are in test/integration/run-ended.test.ts.
 */
import { runEnded, type RunEndedPorts, type RunEndedSettings } from '../../lambdas/run-ended/ended';
import type { DeploymentRecord } from '../../lambdas/shared/domain/history';
import {
  HANDLED_FAILURE_STATE,
  REDRIVE_NOTE,
  endError,
  handledByTheRun,
  parseLockInfo,
  terraformLockNotes,
  type ExecutionEnd,
  type LastState,
  type TerraformLockInfo,
} from '../../lambdas/shared/domain/run-end';
import type { RunState } from '../../lambdas/shared/domain/run-state';

const ARN = 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw:run-7';
const LOCK_ID = '8f1d2c3b-4a5e-4f60-9a7b-1c2d3e4f5a6b';
const end = (status: ExecutionEnd['status'], extra: Partial<ExecutionEnd> = {}): ExecutionEnd => ({
  executionArn: ARN,
  name: 'run-7',
  status,
  startDate: Date.parse('2026-12-01T08:00:00Z'),
  stopDate: Date.parse('2026-12-04T23:00:00Z'),
  ...extra,
});

const PREFLIGHT: RunState['preflight'] = {
  gateway: 'gw',
  version: '1.1.0',
  change: 'upgrade',
  previousVersion: '1.0.0',
  bundle: { key: 'releases/gateway-1.1.0.zip', sha256: 'ab'.repeat(32) },
  trigger: 'cli',
};
const UP_TO_APPLY: RunState = {
  lock: { acquiredAt: '2026-12-01T08:00:01Z' },
  preflight: PREFLIGHT,
  workspace: { workspacePrefix: 'workspaces/gw/run-7/' },
  plan: { buildId: 'gw-plan:1', exported: [] },
  analysis: { line: 'Plan: 1 to add, 0 to change, 0 to destroy.', decision: 'approval', because: 'every plan', hasChanges: true, risk: { level: 'low', reasons: [] }, planTextKey: 'plans/x' },
  approval: { approved: true, decidedBy: 'arn:aws:iam::123456789012:role/Ops', reason: 'ok' },
};

describe('handledByTheRun', () => {
  test('only a FAILED run whose last state is the failure path\'s own end', () => {
    expect(handledByTheRun({ status: 'FAILED' }, { name: HANDLED_FAILURE_STATE, state: {} })).toBe(true);
    expect(handledByTheRun({ status: 'FAILED' }, { name: 'RunOutcome', state: {} })).toBe(false);
    expect(handledByTheRun({ status: 'FAILED' }, null)).toBe(false);
    expect(handledByTheRun({ status: 'TIMED_OUT' }, { name: HANDLED_FAILURE_STATE, state: {} })).toBe(false);
    expect(handledByTheRun({ status: 'ABORTED' }, { name: 'Apply', state: {} })).toBe(false);
  });
});

describe('endError', () => {
  test('a timeout names the machine\'s timeout and the step', () => {
    expect(endError(end('TIMED_OUT'), 'ApproveUninstall', 87)).toEqual({ Error: 'ExecutionTimedOut', Cause: "the run exceeded the state machine's timeout of 87 h while in ApproveUninstall" });
  });
  test('a stop says where to find who stopped it', () => {
    expect(endError(end('ABORTED'), 'Apply', 87).Cause).toContain('CloudTrail');
  });
  test('a failure outside the catch keeps the service\'s error and cause, or says what it was', () => {
    expect(endError(end('FAILED', { error: 'States.Runtime', cause: 'path $.x not found' }), 'RunOutcome', 87)).toEqual({ Error: 'States.Runtime', Cause: 'path $.x not found' });
    expect(endError(end('FAILED'), 'RunOutcome', 87)).toEqual({ Error: 'States.Runtime', Cause: 'the run failed in RunOutcome, outside its own error handling' });
  });
});

describe('parseLockInfo', () => {
  test('Terraform\'s LockInfo', () => {
    const text = JSON.stringify({ ID: LOCK_ID, Operation: 'OperationTypeApply', Info: '', Who: 'root@build', Version: '1.11.4', Created: '2026-12-04T22:10:00Z', Path: 'b/k' });
    expect(parseLockInfo(text)).toEqual({ ID: LOCK_ID, Operation: 'OperationTypeApply', Who: 'root@build', Version: '1.11.4', Created: '2026-12-04T22:10:00Z', Path: 'b/k' });
  });
  test('nothing that is not a lock, and no ID that is not a UUID, reaches a command', () => {
    for (const text of [null, '', 'not json', '[]', '{}', JSON.stringify({ ID: 'x; rm -rf /' }), JSON.stringify({ ID: 42 })]) expect(parseLockInfo(text)).toBeNull();
  });
});

describe('terraformLockNotes', () => {
  const lock: TerraformLockInfo = { ID: LOCK_ID, Operation: 'OperationTypeApply', Who: 'root@build', Created: '2026-12-04T22:10:00Z' };
  test('says the lock is there and was not removed, how to make sure no build runs, and the exact force-unlock', () => {
    const notes = terraformLockNotes(lock, { stateUrl: 's3://state/gateways/gw/terraform.tfstate', workspaceUrl: 's3://art/workspaces/gw/run-7/', projects: ['PlanProj', 'ApplyProj'] }).join('\n');
    expect(notes).toContain(`is still held (ID ${LOCK_ID}, apply by root@build since 2026-12-04T22:10:00Z)`);
    expect(notes).toContain('It was not removed.');
    expect(notes).toContain('aws codebuild list-builds-for-project --project-name PlanProj; aws codebuild list-builds-for-project --project-name ApplyProj');
    expect(notes).toContain(`aws s3 cp --recursive s3://art/workspaces/gw/run-7/ ws && cd ws && terraform init -input=false && terraform force-unlock -force ${LOCK_ID}`);
  });
  test('without a workspace, the command alone', () => {
    expect(terraformLockNotes({ ID: LOCK_ID }, { stateUrl: 's3://s/k', workspaceUrl: null, projects: ['P'] }).join('\n')).toContain(`terraform force-unlock -force ${LOCK_ID}`);
  });
});

function fakes(last: LastState | null, opts: { holds?: boolean; tfLock?: TerraformLockInfo | null } = {}) {
  const published: Array<{ topic: string; subject: string; text: string }> = [];
  const runs: DeploymentRecord[] = [];
  const applied: Array<{ record: DeploymentRecord; verification: string }> = [];
  const released: string[] = [];
  const ports: RunEndedPorts = {
    readJson: async () => null,
    publish: async (topic, subject, text) => void published.push({ topic, subject, text }),
    recordRun: async (record) => void runs.push(record),
    recordApplied: async (record, verification) => void applied.push({ record, verification }),
    now: () => new Date('2026-12-04T23:00:05Z'),
    lastState: async () => last,
    releaseLock: async (arn) => {
      released.push(arn);
      return opts.holds ?? true;
    },
    terraformLock: async () => opts.tfLock ?? null,
  };
  return { ports, published, runs, applied, released };
}

const SETTINGS: RunEndedSettings = {
  artifactsBucket: 'art',
  accountId: '123456789012',
  region: 'eu-central-1',
  stepLogGroups: {},
  gateway: 'gw',
  timeoutHours: 87,
  stateUrl: 's3://state/gateways/gw/terraform.tfstate',
  projects: ['PlanProj', 'ApplyProj', 'VerifyProj'],
};

describe('runEnded', () => {
  test('a run that failed through its own failure path: no second notice or record; only a lock its ReleaseLock left is released', async () => {
    const f = fakes({ name: HANDLED_FAILURE_STATE, state: {} }, { holds: false });
    expect(await runEnded({ detail: end('FAILED') }, f.ports, SETTINGS)).toEqual({ action: 'none', reason: 'the run ended through its own failure path, which notified and recorded it' });
    expect([f.published, f.runs, f.applied]).toEqual([[], [], []]);
    // The conditional delete: a no-op unless this execution still holds the lock (ReleaseLock failed).
    expect(f.released).toEqual([ARN]);
    const g = fakes({ name: HANDLED_FAILURE_STATE, state: {} }, { holds: true });
    expect(await runEnded({ detail: end('FAILED') }, g.ports, SETTINGS)).toMatchObject({ reason: expect.stringContaining('its lock, still held, was released') });
  });

  test('timed out in an approval wait: recorded as failed, lock released, operators told, nothing applied', async () => {
    const f = fakes({ name: 'RequestApproval', state: { ...UP_TO_APPLY, approval: undefined } });
    expect(await runEnded({ detail: end('TIMED_OUT') }, f.ports, SETTINGS)).toEqual({ action: 'reported', step: 'RequestApproval', notified: ['operators'] });
    expect(f.released).toEqual([ARN]);
    expect(f.runs).toHaveLength(1);
    expect(f.runs[0]).toMatchObject({ outcome: 'failed', error: 'ExecutionTimedOut', toVersion: '1.1.0', executionName: 'run-7', startedAt: '2026-12-01T08:00:00.000Z' });
    const [notice] = f.published;
    expect(notice.subject).toBe('Compute Gateway gw: deployment failed at RequestApproval (ExecutionTimedOut)');
    expect(notice.text).toContain("the run exceeded the state machine's timeout of 87 h while in RequestApproval");
    expect(notice.text).toContain('Nothing was applied.');
    expect(notice.text).toContain("The deployer's lock for this gateway was released");
    expect(notice.text).toContain(REDRIVE_NOTE);
  });

  test('stopped during Apply with Terraform\'s lock left: may be partly applied, the lock reported with its command, never removed', async () => {
    const f = fakes({ name: 'Apply', state: UP_TO_APPLY }, { tfLock: { ID: LOCK_ID, Operation: 'OperationTypeApply' } });
    await runEnded({ detail: end('ABORTED') }, f.ports, SETTINGS);
    const text = f.published[0].text;
    expect(f.published[0].subject).toBe('Compute Gateway gw: deployment failed at Apply (ExecutionAborted)');
    expect(text).toContain('Terraform may have applied part of the plan');
    expect(text).toContain(`terraform force-unlock -force ${LOCK_ID}`);
    expect(text).toContain('s3://art/workspaces/gw/run-7/');
    expect(f.runs[0]).toMatchObject({ outcome: 'failed', error: 'ExecutionAborted' });
  });

  test('stopped during Verify after Apply finished: the applied version is recorded as deployed, not verified', async () => {
    const f = fakes({ name: 'Verify', state: { ...UP_TO_APPLY, apply: { buildId: 'gw-apply:1', exported: [] } } });
    await runEnded({ detail: end('ABORTED') }, f.ports, SETTINGS);
    expect(f.runs).toEqual([]);
    expect(f.applied).toHaveLength(1);
    expect(f.applied[0].verification).toBe('not verified: failed at Verify (ExecutionAborted)');
    expect(f.published[0].text).toContain('1.1.0 is now recorded as the deployed version, not verified');
  });

  test('stopped in a step that runs no Terraform: a Terraform lock seen then is not this run\'s, and is not reported as left by it', async () => {
    const f = fakes({ name: 'Verify', state: { ...UP_TO_APPLY, apply: { buildId: 'gw-apply:1', exported: [] } } }, { tfLock: { ID: LOCK_ID } });
    await runEnded({ detail: end('ABORTED') }, f.ports, SETTINGS);
    expect(f.published[0].text).not.toContain('force-unlock');
  });

  test('a newer run holds the lock: it is left alone, and the notice says so', async () => {
    const f = fakes({ name: 'Plan', state: UP_TO_APPLY }, { holds: false });
    await runEnded({ detail: end('TIMED_OUT') }, f.ports, SETTINGS);
    expect(f.published[0].text).toContain("did not hold the deployer's lock any more");
  });

  test('the history cannot be read: still recorded, released and told, with what is known', async () => {
    const f = fakes(null);
    f.ports.lastState = async () => {
      throw new Error('AccessDenied');
    };
    expect(await runEnded({ detail: end('FAILED', { error: 'States.Runtime', cause: 'boom' }) }, f.ports, SETTINGS)).toMatchObject({ action: 'reported', step: 'an unknown step' });
    expect(f.released).toEqual([ARN]);
    expect(f.published[0].text).toContain('Error: States.Runtime');
  });
});
