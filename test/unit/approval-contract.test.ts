/**
 * The approve → apply contract's pure parts, each attacked the way the issue that asked for it was reproduced:
 * who counts as an approver, what makes a recorded decision valid, what binds an identity proof to one decision,
 * and the approval function's answers (with fakes for STS, the table and Step Functions).
 */
import { ApprovalNotValid, checkApproval } from '../../lambdas/check-approval/check';
import { decide, type DecideEvent, type DecidePorts } from '../../lambdas/decide-approval/decide';
import type { PendingApproval } from '../../lambdas/shared/adapters/approvals';
import { admittingEntry, approverEntryProblem, principalArnPatterns, principalOf } from '../../lambdas/shared/domain/approvers';
import { approvalRound, judgeDecision, type DecisionRecord } from '../../lambdas/shared/domain/decision';
import { DECISION_HEADER, decisionDigest, proofProblem } from '../../lambdas/shared/domain/identity-proof';

const ACCOUNT = '123456789012';
const OPERATOR_ROLE = `arn:aws:iam::${ACCOUNT}:role/GatewayOperator`;
const ALICE = `arn:aws:sts::${ACCOUNT}:assumed-role/GatewayOperator/alice`;
const MALLORY = `arn:aws:sts::${ACCOUNT}:assumed-role/PowerUserAccess/mallory`;
const SHA = 'ab'.repeat(32);
const OTHER_SHA = 'cd'.repeat(32);
const ROUND = 'RequestApproval#gw-plan:1111';

describe('approval.approvers: who is admitted', () => {
  test.each([
    ['a session of a listed role', ALICE, [OPERATOR_ROLE], OPERATOR_ROLE],
    ['a session of a listed role with a path (STS ARNs carry no path)', ALICE, [`arn:aws:iam::${ACCOUNT}:role/teams/GatewayOperator`], `arn:aws:iam::${ACCOUNT}:role/teams/GatewayOperator`],
    [
      'an SSO permission-set role by pattern',
      `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_GatewayOperators_0a1b2c3d4e5f/alice@example.com`,
      [`arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_GatewayOperators_*`],
      `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_GatewayOperators_*`,
    ],
    ['a listed IAM user', `arn:aws:iam::${ACCOUNT}:user/ops/alice`, [`arn:aws:iam::${ACCOUNT}:user/alice`], `arn:aws:iam::${ACCOUNT}:user/alice`],
    ['one listed session', ALICE, [`arn:aws:sts::${ACCOUNT}:assumed-role/GatewayOperator/alice`], `arn:aws:sts::${ACCOUNT}:assumed-role/GatewayOperator/alice`],
  ])('admits %s', (_what, caller, approvers, entry) => {
    expect(admittingEntry(caller, approvers)).toBe(entry);
  });

  test.each([
    ['a PowerUser session', MALLORY, [OPERATOR_ROLE]],
    ['another session when one session is listed', `arn:aws:sts::${ACCOUNT}:assumed-role/GatewayOperator/bob`, [ALICE]],
    ['the listed role from another account', `arn:aws:sts::210987654321:assumed-role/GatewayOperator/alice`, [OPERATOR_ROLE]],
    ['the listed role in another partition', `arn:aws-cn:sts::${ACCOUNT}:assumed-role/GatewayOperator/alice`, [OPERATOR_ROLE]],
    ['a role whose name only starts like the listed one', `arn:aws:sts::${ACCOUNT}:assumed-role/GatewayOperatorTest/alice`, [OPERATOR_ROLE]],
    ['a user named like the listed role', `arn:aws:iam::${ACCOUNT}:user/GatewayOperator`, [OPERATOR_ROLE]],
    ['a bare role ARN (never a caller identity)', OPERATOR_ROLE, [OPERATOR_ROLE]],
    ['anyone, by a list entry that names every role', MALLORY, [`arn:aws:iam::${ACCOUNT}:role/*`]],
    ['something that is no ARN', 'GatewayOperator', [OPERATOR_ROLE]],
  ])('refuses %s', (_what, caller, approvers) => {
    expect(admittingEntry(caller, approvers)).toBeNull();
  });

  test('principalOf reads roles, users and sessions; refuses groups and other services', () => {
    expect(principalOf(ALICE)).toEqual({ partition: 'aws', account: ACCOUNT, kind: 'session', name: 'GatewayOperator', session: 'alice' });
    expect(principalOf(`arn:aws:iam::${ACCOUNT}:role/a/b/Name`)).toMatchObject({ kind: 'role', name: 'Name' });
    expect(principalOf(`arn:aws:iam::${ACCOUNT}:group/ops`)).toBeNull();
    expect(principalOf(`arn:aws:s3:::bucket`)).toBeNull();
  });

  test('approverEntryProblem accepts the documented forms', () => {
    for (const entry of [OPERATOR_ROLE, ALICE, `arn:aws:iam::${ACCOUNT}:user/alice`, `arn:aws:iam::${ACCOUNT}:role/AWSReservedSSO_Ops_*`]) {
      expect(approverEntryProblem(entry)).toBeNull();
    }
  });

  test('bucket policy patterns: the role or user ARN with any path; a session becomes its role', () => {
    expect(principalArnPatterns([OPERATOR_ROLE, ALICE, `arn:aws:iam::${ACCOUNT}:user/ops/ci`])).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/GatewayOperator`,
      `arn:aws:iam::${ACCOUNT}:role/*/GatewayOperator`,
      `arn:aws:iam::${ACCOUNT}:user/ci`,
      `arn:aws:iam::${ACCOUNT}:user/*/ci`,
    ]);
  });
});

const record = (over: Partial<DecisionRecord> = {}): DecisionRecord => ({
  executionName: 'run-1',
  round: ROUND,
  status: 'approved',
  approverArn: ALICE,
  reason: 'reviewed',
  decidedAt: '2026-12-04T10:00:00.000Z',
  planSha256: SHA,
  ...over,
});
const expected = { executionName: 'run-1', round: ROUND, planSha256: SHA, approvers: [OPERATOR_ROLE] };

describe('judgeDecision: what lets a run go on after an approval wait', () => {
  test('an approval of this execution, round and digest by an approver', () => {
    expect(judgeDecision(record(), expected)).toEqual({ valid: true, record: record() });
  });

  test.each([
    ['no record: woken by a SendTaskSuccess with the token from the execution history', null, 'no decision was recorded'],
    ['a rejection', record({ status: 'rejected' }), 'the recorded decision is "rejected"'],
    ['an approval of another plan (the swapped binary)', record({ planSha256: OTHER_SHA }), `the approval was for sha256 ${OTHER_SHA}`],
    ['the first round\'s approval replayed for the re-plan', record({ round: 'RequestApproval#gw-plan:0000' }), 'belongs to round'],
    ['another execution\'s approval', record({ executionName: 'run-0' }), 'belongs to execution run-0'],
    ['an approver since removed from the config', record({ approverArn: MALLORY }), 'is not in approval.approvers'],
  ])('refuses %s', (_what, rec, reason) => {
    const judgement = judgeDecision(rec, expected);
    expect(judgement.valid).toBe(false);
    expect(!judgement.valid && judgement.reason).toContain(reason);
  });

  test('a round is the approval state and the build it asks about', () => {
    expect(approvalRound('ApproveUninstall', 'gw-verify:42')).toBe('ApproveUninstall#gw-verify:42');
    expect(() => approvalRound('Request Approval', 'b')).toThrow('is not a state name');
    expect(() => approvalRound('RequestApproval', '')).toThrow('is not a build id');
  });
});

describe('checkApproval (the CheckApproval state)', () => {
  const config = JSON.stringify({
    gatewayName: 'gw',
    target: { account: ACCOUNT, region: 'eu-central-1' },
    valuesSecretName: 'gw/values',
    approval: { approvers: [OPERATOR_ROLE] },
  });
  const event = { config, executionName: 'run-1', approvalState: 'RequestApproval', subjectBuildId: 'gw-plan:1111', planSha256: SHA };

  test('returns the verified approval, which replaces whatever woke the run', async () => {
    const reads: string[] = [];
    const approval = await checkApproval(event, async (name, round) => {
      reads.push(`${name} ${round}`);
      return record();
    });
    expect(reads).toEqual([`run-1 ${ROUND}`]);
    expect(approval).toEqual({ approved: true, decidedBy: ALICE, reason: 'reviewed', decidedAt: '2026-12-04T10:00:00.000Z', round: ROUND, planSha256: SHA });
  });

  test('without a record the run ends as ApprovalNotValid, saying nothing was applied', async () => {
    const outcome = checkApproval(event, async () => null);
    await expect(outcome).rejects.toBeInstanceOf(ApprovalNotValid);
    await expect(outcome).rejects.toThrow('nothing was applied');
  });

  test('the digest compared is the one the next step acts on', async () => {
    await expect(checkApproval({ ...event, planSha256: OTHER_SHA }, async () => record())).rejects.toThrow(`the run would act on sha256 ${OTHER_SHA}`);
  });
});

describe('identity proofs: bound to one decision, fresh', () => {
  const request = { execution: 'run-1', decision: 'approve', reason: 'reviewed', planSha256: SHA };
  const digest = decisionDigest(request);
  const now = new Date('2026-12-04T10:00:00Z');
  const headers = (over: Record<string, string> = {}) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=AKIA/20261204/eu-central-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;${DECISION_HEADER}, Signature=00`,
    'x-amz-date': '20261204T095900Z',
    [DECISION_HEADER]: digest,
    ...over,
  });

  test('a proof signed a minute ago for this decision may go to STS', () => {
    expect(proofProblem(headers(), digest, now)).toBeNull();
  });

  test('the digest covers every field: another reason or digest is another decision', () => {
    expect(decisionDigest({ ...request, reason: 'rubber stamp' })).not.toBe(digest);
    expect(decisionDigest({ ...request, planSha256: OTHER_SHA })).not.toBe(digest);
    expect(decisionDigest({ ...request, decision: 'reject' })).not.toBe(digest);
  });

  test.each([
    ['no proof', undefined, 'carries no identity proof'],
    ['a proof that does not sign the decision header', headers({ authorization: 'AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host;x-amz-date, Signature=00' }), 'does not sign'],
    ['a proof made for another decision (replayed)', headers({ [DECISION_HEADER]: decisionDigest({ ...request, reason: 'other' }) }), 'made for another decision'],
    ['a proof signed an hour ago', headers({ 'x-amz-date': '20261204T090000Z' }), 'signed 3600 s ago'],
    ['a proof dated an hour ahead', headers({ 'x-amz-date': '20261204T110000Z' }), 'signed -3600 s ago'],
    ['a proof without a date', headers({ 'x-amz-date': 'yesterday' }), 'no X-Amz-Date'],
  ])('refuses %s', (_what, h, problem) => {
    expect(proofProblem(h as Record<string, string> | undefined, digest, now)).toContain(problem);
  });
});

describe('decide (the approval function)', () => {
  const pending: PendingApproval = {
    executionName: 'run-1',
    executionArn: `arn:aws:states:eu-central-1:${ACCOUNT}:execution:GatewayDeployment-gw:run-1`,
    gateway: 'gw',
    round: ROUND,
    taskToken: 'TOKEN',
    planSha256: SHA,
    requestedAt: '2026-12-04T09:00:00.000Z',
    expiresAt: 0,
  };
  const NOW = new Date('2026-12-04T10:00:00Z');
  const settings = { gateway: 'gw', approvers: [OPERATOR_ROLE] };

  function world(caller = ALICE) {
    const recorded: DecisionRecord[] = [];
    const sent: string[] = [];
    const ports: DecidePorts = {
      verifyCaller: async () => caller,
      latestPending: async (name) => (name === 'run-1' ? pending : null),
      readDecision: async (name, round) => recorded.find((r) => r.executionName === name && r.round === round) ?? null,
      recordDecision: async (r) => {
        if (recorded.some((x) => x.executionName === r.executionName && x.round === r.round)) return false;
        recorded.push(r);
        return true;
      },
      sendSuccess: async (token, output) => void sent.push(`success ${token} ${output}`),
      sendFailure: async (token, error) => void sent.push(`failure ${token} ${error}`),
      now: () => NOW,
    };
    return { ports, recorded, sent };
  }
  const event = (request: Record<string, unknown>, over: Record<string, string> = {}): DecideEvent => ({
    request,
    identity: { headers: { authorization: `SignedHeaders=host;x-amz-date;${DECISION_HEADER}`, 'x-amz-date': '20261204T095930Z', [DECISION_HEADER]: decisionDigest(request as never), ...over } },
  });
  const approve = { execution: 'run-1', decision: 'approve', reason: 'reviewed the plan' };

  test('an approver: recorded once with the verified ARN and the pending digest, then the run is woken', async () => {
    const w = world();
    const out = await decide(event(approve), settings, w.ports);
    expect(out.statusCode).toBe(200);
    expect(out.body).toMatchObject({ decidedBy: ALICE, planSha256: SHA, round: ROUND });
    expect(w.recorded).toEqual([record({ reason: 'reviewed the plan', decidedAt: NOW.toISOString() })]);
    expect(w.sent).toEqual([`success TOKEN {"round":"${ROUND}"}`]);
  });

  test('a principal outside approval.approvers (PowerUser): 403, nothing recorded, nothing sent', async () => {
    const w = world(MALLORY);
    const out = await decide(event(approve), settings, w.ports);
    expect(out).toMatchObject({ statusCode: 403, body: { error: 'NotAnApprover' } });
    expect(w.recorded).toEqual([]);
    expect(w.sent).toEqual([]);
  });

  test('the request cannot name its approver: an unknown field is refused', async () => {
    const w = world(MALLORY);
    const out = await decide(event({ ...approve, decidedBy: ALICE }), settings, w.ports);
    expect(out).toMatchObject({ statusCode: 400 });
    expect(w.recorded).toEqual([]);
  });

  test('a proof for another decision: 401 before STS is asked', async () => {
    const w = world();
    let asked = false;
    const out = await decide(event(approve, { [DECISION_HEADER]: decisionDigest({ ...approve, reason: 'x' } as never) }), settings, {
      ...w.ports,
      verifyCaller: async () => {
        asked = true;
        return ALICE;
      },
    });
    expect(out).toMatchObject({ statusCode: 401, body: { error: 'IdentityNotVerified' } });
    expect(asked).toBe(false);
    expect(w.recorded).toEqual([]);
  });

  test('STS refusing the proof: 401, nothing recorded', async () => {
    const w = world();
    const refused = Object.assign(new Error('STS refused the identity proof (403 SignatureDoesNotMatch)'), { name: 'IdentityNotVerified' });
    const out = await decide(event(approve), settings, { ...w.ports, verifyCaller: async () => Promise.reject(refused) });
    expect(out).toMatchObject({ statusCode: 401, body: { message: expect.stringContaining('SignatureDoesNotMatch') } });
    expect(w.recorded).toEqual([]);
  });

  test('a reviewed digest that is not the waiting one: 409 PlanChanged, nothing recorded', async () => {
    const w = world();
    const out = await decide(event({ ...approve, planSha256: OTHER_SHA }), settings, w.ports);
    expect(out).toMatchObject({ statusCode: 409, body: { error: 'PlanChanged' } });
    expect(w.recorded).toEqual([]);
  });

  test('decisions are append-only: a second, different answer is refused and nothing is sent', async () => {
    const w = world();
    await decide(event(approve), settings, w.ports);
    const out = await decide(event({ ...approve, decision: 'reject' }), settings, w.ports);
    expect(out).toMatchObject({ statusCode: 409, body: { error: 'AlreadyDecided' } });
    expect(w.recorded).toHaveLength(1);
    expect(w.sent).toHaveLength(1);
  });

  test('the same answer again (a delivery that failed) is delivered again, not recorded twice', async () => {
    const w = world();
    await decide(event(approve), settings, w.ports);
    const out = await decide(event(approve), settings, w.ports);
    expect(out.statusCode).toBe(200);
    expect(w.recorded).toHaveLength(1);
    expect(w.sent).toHaveLength(2);
  });

  test('a rejection is recorded and ends the wait with ApprovalRejected', async () => {
    const w = world();
    const out = await decide(event({ ...approve, decision: 'reject' }), settings, w.ports);
    expect(out.statusCode).toBe(200);
    expect(w.recorded[0].status).toBe('rejected');
    expect(w.sent).toEqual(['failure TOKEN ApprovalRejected']);
  });

  test('no pending round: 404; a run no longer waiting: 410 with the decision kept', async () => {
    const w = world();
    expect((await decide(event({ ...approve, execution: 'run-9' }), settings, w.ports)).statusCode).toBe(404);
    const gone = Object.assign(new Error('gone'), { name: 'TaskTimedOut' });
    const out = await decide(event(approve), settings, { ...w.ports, sendSuccess: async () => Promise.reject(gone) });
    expect(out).toMatchObject({ statusCode: 410, body: { error: 'NotWaiting' } });
    expect(w.recorded).toHaveLength(1);
  });
});
