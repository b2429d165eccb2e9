/**
 * Issue #18, finding 3: the HOWTO's bucket policies for the external data buckets are told to operators, as the
 * build stored them, and only when they are exactly the HOWTO's policy for a real IAM role.
 */
import { dalAccessReport, dalBucketPolicy } from '../../lambdas/shared/domain/bucket-policy';
import { DAL_NOTICE_MAX_BYTES, dalAccessLines, dalAccessOf, dalReportKey, type DalAccess } from '../../lambdas/shared/domain/dal-access';
import { completionMessages, type CompletionFacts } from '../../lambdas/shared/domain/messages';
import { REDACTED } from '../../lambdas/shared/domain/plan';
import type { RunState } from '../../lambdas/shared/domain/run-state';
import { plannedOutputsReport } from '../../buildspecs/helper/terraform-step';

const ROLE = 'arn:aws:iam::123456789012:role/gw-prod-dal';
const SOURCE = 's3://gw-artifacts/reports/gw-prod/run-42/apply.json';
/** An Apply report as terraform-step.ts writes it. */
function applyReport(buckets: string[], ...given: [role?: unknown]) {
  const role = given.length > 0 ? given[0] : ROLE;
  return { status: 'applied', outputs: { cluster_name: 'gw-prod', dal_role_arn: role }, sensitiveOutputs: ['kubeconfig'], ...dalAccessReport(role, buckets) };
}

describe('dalAccessOf: what a stored report tells', () => {
  test('the stored policies, the very objects of the report, in the config order', () => {
    const report = applyReport(['imaging-data', 'genomics.v2']);
    const access = dalAccessOf(report);
    expect(access).toEqual({
      kind: 'policies',
      dalRoleArn: ROLE,
      buckets: [
        { bucket: 'imaging-data', policy: dalBucketPolicy(ROLE, 'imaging-data') },
        { bucket: 'genomics.v2', policy: dalBucketPolicy(ROLE, 'genomics.v2') },
      ],
    });
    // Not made again: what is shown is the report's own object.
    expect((access as Extract<DalAccess, { kind: 'policies' }>).buckets[0].policy).toBe(report.dataBucketPolicies['imaging-data']);
  });

  test('no external buckets: said, with the role when there is one', () => {
    expect(dalAccessOf(applyReport([]))).toEqual({ kind: 'no-buckets', dalRoleArn: ROLE });
    expect(dalAccessOf(applyReport([], undefined))).toEqual({ kind: 'no-buckets', dalRoleArn: null });
  });

  test('reports that say nothing about DAL access: null, not "no buckets"', () => {
    expect(dalAccessOf(null)).toBeNull();
    expect(dalAccessOf('text')).toBeNull();
    // The Plan's outputs.json of an older deployer.
    expect(dalAccessOf({ outputs: { dal_role_arn: ROLE } })).toBeNull();
    // An older Apply report without dataBuckets and without a role: empty policies cannot tell why.
    expect(dalAccessOf({ outputs: {}, dataBucketPolicies: {} })).toBeNull();
  });

  test('an older Apply report (no dataBuckets): with a role, its policies are one per bucket', () => {
    const { dataBucketPolicies } = dalAccessReport(ROLE, ['imaging-data']);
    expect(dalAccessOf({ outputs: { dal_role_arn: ROLE }, dataBucketPolicies })).toMatchObject({ kind: 'policies', buckets: [{ bucket: 'imaging-data' }] });
    expect(dalAccessOf({ outputs: { dal_role_arn: ROLE }, dataBucketPolicies: {} })).toEqual({ kind: 'no-buckets', dalRoleArn: ROLE });
  });

  test.each([
    ['no dal_role_arn output', undefined, /gave no dal_role_arn output/],
    ['a sensitive one (only named, no value)', '', /gave no dal_role_arn output/],
    ['a redacted one', `arn:aws:iam::123456789012:role/${REDACTED}`, /is not an IAM role ARN/],
    ['one that is not a role', 'arn:aws:iam::123456789012:user/alice', /is not an IAM role ARN/],
    ['a multi-line one', `${ROLE}\nAttach s3:* instead`, /is not an IAM role ARN/],
    ['a wildcard principal', '*', /is not an IAM role ARN/],
  ])('buckets but %s: unavailable, and the value is not repeated', (_, role, reason) => {
    const access = dalAccessOf(applyReport(['imaging-data'], role));
    expect(access).toMatchObject({ kind: 'unavailable', buckets: ['imaging-data'], reason: expect.stringMatching(reason) });
    if (typeof role === 'string' && role) expect(JSON.stringify(access)).not.toContain(role);
  });

  const tampered = (edit: (statement: Record<string, unknown>) => void) => {
    const report = applyReport(['imaging-data']);
    edit((report.dataBucketPolicies['imaging-data'] as { Statement: Array<Record<string, unknown>> }).Statement[0]);
    return report;
  };

  test.each([
    ['more actions', (s: Record<string, unknown>) => (s.Action = ['s3:ListBucket', 's3:GetObject', 's3:PutObject'])],
    ['s3:*', (s: Record<string, unknown>) => (s.Action = 's3:*')],
    ['another principal', (s: Record<string, unknown>) => (s.Principal = { AWS: ['*'] })],
    ['another bucket', (s: Record<string, unknown>) => (s.Resource = ['arn:aws:s3:::other-bucket', 'arn:aws:s3:::other-bucket/*'])],
    ['every bucket', (s: Record<string, unknown>) => (s.Resource = '*')],
    ['a condition', (s: Record<string, unknown>) => (s.Condition = { Bool: { 'aws:SecureTransport': 'false' } })],
  ])('a stored policy that grants something else (%s) is not shown', (_, edit) => {
    const access = dalAccessOf(tampered(edit));
    expect(access).toMatchObject({ kind: 'unavailable', reason: expect.stringContaining("the policy stored for bucket imaging-data is not the HOWTO's") });
  });

  test('a second statement, or a missing policy, is not shown either', () => {
    const report = applyReport(['imaging-data', 'genomics-data']);
    (report.dataBucketPolicies['imaging-data'] as { Statement: unknown[] }).Statement.push({ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' });
    expect(dalAccessOf(report)).toMatchObject({ kind: 'unavailable' });
    delete (report.dataBucketPolicies as Record<string, unknown>)['imaging-data'];
    expect(dalAccessOf(report)).toMatchObject({ kind: 'unavailable', reason: 'no policy was stored for bucket imaging-data' });
  });

  test('a bucket name that is not one (it would end up on a shell command line): nothing shown', () => {
    const report = { ...applyReport(['imaging-data']), dataBuckets: ['imaging-data', 'x; rm -rf ~'] };
    expect(dalAccessOf(report)).toMatchObject({ kind: 'unavailable', buckets: ['imaging-data'], reason: expect.stringContaining('not an S3 bucket name') });
  });
});

describe('the builds store what the notice reads', () => {
  test("the Plan's outputs.json: the planned outputs and the policies made from the planned dal_role_arn", () => {
    const plan = {
      output_changes: {
        dal_role_arn: { actions: ['no-op'], before: ROLE, after: ROLE, after_unknown: false, after_sensitive: false },
        cluster_name: { actions: ['no-op'], before: 'gw-prod', after: 'gw-prod', after_unknown: false, after_sensitive: false },
      },
    };
    const doc = plannedOutputsReport(plan as never, ['imaging-data']);
    expect(doc).toEqual({ outputs: { dal_role_arn: ROLE, cluster_name: 'gw-prod' }, dataBuckets: ['imaging-data'], dataBucketPolicies: { 'imaging-data': dalBucketPolicy(ROLE, 'imaging-data') } });
    expect(dalAccessOf(doc)).toMatchObject({ kind: 'policies', dalRoleArn: ROLE });
  });

  test('a first install: the planned role is not known yet, so the plan stores no policy (Apply does)', () => {
    const plan = { output_changes: { dal_role_arn: { actions: ['create'], before: null, after: null, after_unknown: true } } };
    const doc = plannedOutputsReport(plan as never, ['imaging-data']);
    expect(doc).toEqual({ outputs: {}, dataBuckets: ['imaging-data'], dataBucketPolicies: {} });
  });
});

describe('dalReportKey: where the run stored them', () => {
  const exported = (vars: Record<string, string>) => ({ exported: Object.entries(vars).map(([Name, Value]) => ({ Name, Value })) });
  const applied: RunState = { apply: exported({ APPLY_REPORT_KEY: 'reports/gw-prod/run-42/apply.json' }), plan: exported({ PLAN_PREFIX: 'plans/gw-prod/run-42/' }) };

  test('after an Apply: its report', () => {
    expect(dalReportKey(applied, 'gw-prod')).toEqual({ key: 'reports/gw-prod/run-42/apply.json', fromPlan: false });
  });

  test("nothing to apply: the Plan's outputs.json", () => {
    const state: RunState = { plan: applied.plan, analysis: { decision: 'no-changes', hasChanges: false } as never };
    expect(dalReportKey(state, 'gw-prod')).toEqual({ key: 'plans/gw-prod/run-42/outputs.json', fromPlan: true });
  });

  test("nowhere else: another gateway's key, an Apply without a report, a plan with changes but no Apply", () => {
    expect(dalReportKey(applied, 'gw-other')).toBeNull();
    expect(dalReportKey({ apply: exported({}) }, 'gw-prod')).toBeNull();
    expect(dalReportKey({ plan: applied.plan, analysis: { decision: 'ask', hasChanges: true } as never }, 'gw-prod')).toBeNull();
    expect(dalReportKey({ plan: exported({ PLAN_PREFIX: 'releases/' }), analysis: { decision: 'no-changes' } as never }, 'gw-prod')).toBeNull();
  });
});

describe('dalAccessLines: the operators\' notice', () => {
  const access = dalAccessOf(applyReport(['imaging-data', 'genomics-data']));

  test('the role, the caveat, and per bucket the exact command and the policy JSON as stored', () => {
    const lines = dalAccessLines(access, { sourceUrl: SOURCE });
    const text = lines.join('\n');
    expect(lines.slice(0, 6)).toEqual([
      `External data buckets: attach each bucket's policy below (the HOWTO's "Enabling access to external AWS S3 buckets").`,
      `DAL role: ${ROLE} (each policy lets it list the bucket and read its objects, nothing else)`,
      "put-bucket-policy REPLACES the bucket's whole policy: if the bucket already has one",
      '(aws s3api get-bucket-policy --bucket <bucket>), add the statement to it instead.',
      'To print them again: npx gateway-deployer dal-policy --config <gateway config> (--bucket <bucket> prints one policy, for its file).',
      '',
    ]);
    expect(text).toContain('Bucket imaging-data: aws s3api put-bucket-policy --bucket imaging-data --policy file://dal-policy-imaging-data.json\ndal-policy-imaging-data.json:\n{');
    expect(text).toContain(JSON.stringify(dalBucketPolicy(ROLE, 'genomics-data'), null, 2));
    expect(lines.at(-1)).toBe('}');
  });

  test('a run with nothing to apply says where they come from', () => {
    expect(dalAccessLines(access, { sourceUrl: SOURCE, fromPlan: true })).toContain(
      "Nothing was applied in this run: these are the deployed gateway's role and policies, from the plan's outputs.",
    );
  });

  test('nothing when there is nothing to attach or the report says nothing', () => {
    expect(dalAccessLines(null, { sourceUrl: SOURCE })).toEqual([]);
    expect(dalAccessLines({ kind: 'no-buckets', dalRoleArn: ROLE }, { sourceUrl: SOURCE })).toEqual([]);
  });

  test('unavailable: the buckets and why, no policy', () => {
    expect(dalAccessLines({ kind: 'unavailable', buckets: ['imaging-data'], reason: 'no policy was stored for bucket imaging-data' }, { sourceUrl: SOURCE })).toEqual([
      'External data buckets (module.additional_data_buckets): imaging-data.',
      `No bucket policy can be given for them: no policy was stored for bucket imaging-data. Report: ${SOURCE}`,
    ]);
  });

  test('too long for a mail: one command per bucket and where the full policies are', () => {
    const many = dalAccessOf(applyReport(Array.from({ length: 20 }, (_, i) => `data-bucket-${i}`)));
    const lines = dalAccessLines(many, { sourceUrl: SOURCE, maxBytes: 4096 });
    const text = lines.join('\n');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(text).not.toContain('"Statement"');
    expect(text).toContain(`The 20 policies are too long for this mail. They are in ${SOURCE} (dataBucketPolicies);`);
    expect(text).toContain('npx gateway-deployer dal-policy --config <gateway config> --bucket <bucket> > dal-policy-<bucket>.json writes each file. Then:');
    expect(lines).toContain('  aws s3api put-bucket-policy --bucket data-bucket-0 --policy file://dal-policy-data-bucket-0.json');
    expect(text).toContain(ROLE);
    expect(text).toContain("put-bucket-policy REPLACES the bucket's whole policy");
  });

  test("far too many buckets: the commands that fit, then how many more; the notice stays below SNS's 256 KB", () => {
    const buckets = Array.from({ length: 3000 }, (_, i) => `customer-data-bucket-number-${i}`);
    const lines = dalAccessLines(dalAccessOf(applyReport(buckets)), { sourceUrl: SOURCE });
    expect(Buffer.byteLength(lines.join('\n'))).toBeLessThanOrEqual(DAL_NOTICE_MAX_BYTES);
    expect(lines.at(-1)).toMatch(/^ {2}… and \d+ more \(npx gateway-deployer dal-policy --config <gateway config> lists them all\)$/);
    const facts = { gateway: 'gw-prod', change: 'upgrade', toVersion: '0.9.0', fromVersion: '0.8.1', dalAccess: lines } as unknown as CompletionFacts;
    expect(Buffer.byteLength(completionMessages(facts, {}).operators.text)).toBeLessThan(256 * 1024);
  });
});

describe('completionMessages: the DAL part goes to operators only', () => {
  const facts: CompletionFacts = {
    gateway: 'gw-prod',
    accountId: '123456789012',
    region: 'eu-central-1',
    change: 'install',
    fromVersion: null,
    toVersion: '0.9.0',
    planSummary: 'Plan: 12 to add, 0 to change, 0 to destroy.',
    approvedBy: 'arn:aws:iam::123456789012:user/alice',
    agentImage: 'quay.io/apheris/gateway-agent:0.9.0',
    agentVersion: '0.9.0',
    expectedAgentVersion: null,
    connectivity: 'passed',
    capacity: null,
    finishedAt: '2024-06-01T10:30:00.000Z',
    executionArn: 'arn:aws:states:eu-central-1:123456789012:execution:GatewayDeployment-gw-prod:run-42',
    reportUrl: 's3://gw-artifacts/reports/gw-prod/run-42/verification.json',
  };

  test('after the smoke-test line, separated by a blank line; the support mail is unchanged', () => {
    const dalAccess = dalAccessLines(dalAccessOf(applyReport(['imaging-data'])), { sourceUrl: SOURCE });
    const without = completionMessages(facts, {});
    const withDal = completionMessages({ ...facts, dalAccess }, {});
    expect(withDal.operators.text).toBe(`${without.operators.text}\n\n${dalAccess.join('\n')}`);
    expect(withDal.support).toEqual(without.support);
    expect(withDal.support.text).not.toContain('dal');
    expect(withDal.operators.subject).toBe(without.operators.subject);
  });
});
