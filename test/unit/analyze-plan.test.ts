/**
 * AnalyzePlan: reads the redacted plan JSON the Plan build exported, and cuts it to what fits in the execution
 * history and a notification, with the approval verdict.
 */
import { MAX_LISTED_CHANGES, runAnalyze, type AnalyzeEvent } from '../../lambdas/analyze-plan/analyze';
import type { BuildResult } from '../../lambdas/shared/domain/build-result';
import type { ChangeAction, ResourceChange, TerraformPlan } from '../../lambdas/shared/domain/plan';
import type { VersionChange } from '../../lambdas/shared/domain/versions';

const PLAN_PREFIX = 'plans/gw-prod/run-1/';
const PLAN_JSON_KEY = `${PLAN_PREFIX}plan.redacted.json`;
const PLAN_TEXT_KEY = `${PLAN_PREFIX}plan.redacted.txt`;
const BUILD_ID = 'GatewayPlan:5c1e8e1b-0d2f-4c1a-9e57-3f0d8b1d2c44';

const APPROVERS = ['arn:aws:iam::123456789012:role/GatewayOperator'];
const baseConfig = { gatewayName: 'gw-prod', target: { account: '123456789012', region: 'eu-central-1' }, valuesSecretName: 'gateways/prod/values', approval: { approvers: APPROVERS } };
const config = (approval?: Record<string, unknown>): string => JSON.stringify(approval ? { ...baseConfig, approval: { approvers: APPROVERS, ...approval } } : baseConfig);
const PLAN_SHA256 = '9f'.repeat(32);

const planBuild = (overrides: Record<string, string | undefined> = {}): BuildResult => {
  const vars: Record<string, string | undefined> = { PLAN_JSON_KEY, PLAN_PREFIX, PLAN_TEXT_KEY, PLAN_SHA256, PLAN_VERSION_ID: 'v-plan-1', OTHER: 'ignored', ...overrides };
  return {
    buildId: BUILD_ID,
    exported: Object.entries(vars)
      .filter(([, v]) => v !== undefined)
      .map(([Name, Value]) => ({ Name, Value })),
  };
};

function rc(address: string, type: string, ...actions: ChangeAction[]): ResourceChange {
  return { address, type, name: address.split('.').pop() ?? address, mode: 'managed', change: { actions } };
}

const plan = (...changes: ResourceChange[]): TerraformPlan => ({ format_version: '1.2', resource_changes: changes });

function analyzeEvent(p: { trigger?: string; change?: VersionChange; config?: string; plan?: BuildResult } = {}): AnalyzeEvent {
  return {
    config: p.config ?? config(),
    preflight: { trigger: p.trigger ?? 'console', change: p.change ?? 'upgrade' },
    plan: p.plan ?? planBuild(),
  };
}

/** A readJson that serves one plan at PLAN_JSON_KEY and records what it was asked for. */
function reader(body: TerraformPlan) {
  const keys: string[] = [];
  const readJson = async (key: string): Promise<unknown> => {
    keys.push(key);
    if (key !== PLAN_JSON_KEY) throw new Error(`unexpected key ${key}`);
    return body;
  };
  return { keys, readJson };
}

describe('runAnalyze', () => {
  test('a mixed plan: counts, line, risk, changes, replaced and keys', async () => {
    const { keys, readJson } = reader(
      plan(
        rc('module.gateway.helm_release.gateway', 'helm_release', 'update'),
        rc('module.gateway.aws_s3_bucket.data', 'aws_s3_bucket', 'create'),
        rc('module.gateway.kubernetes_config_map.settings', 'kubernetes_config_map', 'delete', 'create'),
        rc('module.gateway.aws_cloudwatch_log_group.old', 'aws_cloudwatch_log_group', 'delete'),
        rc('module.gateway.null_resource.noop', 'null_resource', 'no-op'),
        { ...rc('data.aws_caller_identity.current', 'aws_caller_identity', 'read'), mode: 'data' },
      ),
    );
    const result = await runAnalyze(analyzeEvent(), readJson);
    expect(keys).toEqual([PLAN_JSON_KEY]);
    expect(result).toEqual({
      decision: 'ask',
      because: 'every plan is approved by an operator (approval.autoApproveS3Upgrades is off)',
      line: 'Plan: 2 to add, 1 to change, 2 to destroy.',
      add: 2,
      change: 1,
      destroy: 2,
      hasChanges: true,
      risk: {
        level: 'medium',
        reasons: ['replaces module.gateway.kubernetes_config_map.settings', 'destroys module.gateway.aws_cloudwatch_log_group.old'],
      },
      changes: [
        { address: 'module.gateway.helm_release.gateway', action: 'update' },
        { address: 'module.gateway.aws_s3_bucket.data', action: 'create' },
        { address: 'module.gateway.kubernetes_config_map.settings', action: 'replace' },
        { address: 'module.gateway.aws_cloudwatch_log_group.old', action: 'delete' },
      ],
      changesNotListed: 0,
      replaced: ['module.gateway.kubernetes_config_map.settings'],
      planPrefix: PLAN_PREFIX,
      planJsonKey: PLAN_JSON_KEY,
      planTextKey: PLAN_TEXT_KEY,
      // What an approval approves and Apply checks: the plan binary's digest and S3 version.
      planSha256: PLAN_SHA256,
      planVersionId: 'v-plan-1',
    });
  });

  test('a plan without changes → no-changes, risk none', async () => {
    const { readJson } = reader(plan(rc('module.gateway.helm_release.gateway', 'helm_release', 'no-op')));
    const result = await runAnalyze(analyzeEvent({ trigger: 's3' }), readJson);
    expect(result).toMatchObject({
      decision: 'no-changes',
      because: 'the plan has no changes',
      line: 'Plan: 0 to add, 0 to change, 0 to destroy.',
      add: 0,
      change: 0,
      destroy: 0,
      hasChanges: false,
      risk: { level: 'none', reasons: [] },
      changes: [],
      changesNotListed: 0,
      replaced: [],
    });
  });

  test('replacing the EKS cluster is high risk', async () => {
    const { readJson } = reader(plan(rc('module.gateway.module.eks.aws_eks_cluster.this[0]', 'aws_eks_cluster', 'delete', 'create')));
    const result = await runAnalyze(analyzeEvent(), readJson);
    expect(result.risk).toEqual({ level: 'high', reasons: ['replaces the EKS cluster: module.gateway.module.eks.aws_eks_cluster.this[0]'] });
    expect(result.line).toBe('Plan: 1 to add, 0 to change, 1 to destroy.');
  });

  test(`more than ${MAX_LISTED_CHANGES} changes: the list is cut to ${MAX_LISTED_CHANGES}, the rest counted`, async () => {
    expect(MAX_LISTED_CHANGES).toBe(50);
    const many = Array.from({ length: 73 }, (_, i) => rc(`module.gateway.aws_s3_object.file[${i}]`, 'aws_s3_object', 'create'));
    const { readJson } = reader(plan(...many));
    const result = await runAnalyze(analyzeEvent(), readJson);
    expect(result.add).toBe(73);
    expect(result.line).toBe('Plan: 73 to add, 0 to change, 0 to destroy.');
    expect(result.changes).toHaveLength(50);
    expect(result.changes[0]).toEqual({ address: 'module.gateway.aws_s3_object.file[0]', action: 'create' });
    expect(result.changes[49]).toEqual({ address: 'module.gateway.aws_s3_object.file[49]', action: 'create' });
    expect(result.changesNotListed).toBe(23);
  });

  test('exactly 50 changes: all listed, none left out', async () => {
    const fifty = Array.from({ length: 50 }, (_, i) => rc(`module.gateway.aws_s3_object.file[${i}]`, 'aws_s3_object', 'update'));
    const result = await runAnalyze(analyzeEvent(), reader(plan(...fifty)).readJson);
    expect(result.changes).toHaveLength(50);
    expect(result.changesNotListed).toBe(0);
  });

  test('many replacements: risk reasons and replaced addresses are cut to 50 as well', async () => {
    const many = Array.from({ length: 60 }, (_, i) => rc(`module.gateway.kubernetes_secret.s[${i}]`, 'kubernetes_secret', 'delete', 'create'));
    const result = await runAnalyze(analyzeEvent(), reader(plan(...many)).readJson);
    expect(result.destroy).toBe(60);
    expect(result.risk.reasons).toHaveLength(50);
    expect(result.replaced).toHaveLength(50);
    expect(result.changesNotListed).toBe(10);
  });

  test('a Plan build without the plan digest, or with something else in it, is refused: nothing could bind the approval', async () => {
    const { readJson } = reader(plan(rc('module.gateway.helm_release.gateway', 'helm_release', 'update')));
    await expect(runAnalyze(analyzeEvent({ plan: planBuild({ PLAN_SHA256: undefined }) }), readJson)).rejects.toThrow('the Plan build did not export PLAN_SHA256');
    await expect(runAnalyze(analyzeEvent({ plan: planBuild({ PLAN_SHA256: 'latest' }) }), readJson)).rejects.toThrow('exported PLAN_SHA256 "latest", not a sha256');
  });

  test('a Plan build that did not export PLAN_JSON_KEY: an error naming the variable and the build, nothing read', async () => {
    const { keys, readJson } = reader(plan());
    await expect(runAnalyze(analyzeEvent({ plan: planBuild({ PLAN_JSON_KEY: undefined }) }), readJson)).rejects.toThrow(
      `the Plan build did not export PLAN_JSON_KEY; see its log (build ${BUILD_ID})`,
    );
    expect(keys).toEqual([]);
  });

  test('an empty PLAN_JSON_KEY counts as missing', async () => {
    await expect(runAnalyze(analyzeEvent({ plan: planBuild({ PLAN_JSON_KEY: '' }) }), reader(plan()).readJson)).rejects.toThrow(
      /did not export PLAN_JSON_KEY.*build GatewayPlan:5c1e/,
    );
  });

  test('no build id at all: the error says "unknown"', async () => {
    const build: BuildResult = { exported: [{ Name: 'PLAN_PREFIX', Value: PLAN_PREFIX }] };
    await expect(runAnalyze(analyzeEvent({ plan: build }), reader(plan()).readJson)).rejects.toThrow(
      'the Plan build did not export PLAN_JSON_KEY; see its log (build unknown)',
    );
  });

  test.each(['PLAN_PREFIX', 'PLAN_TEXT_KEY'])('a missing %s is an error naming it', async (name) => {
    await expect(runAnalyze(analyzeEvent({ plan: planBuild({ [name]: undefined }) }), reader(plan()).readJson)).rejects.toThrow(
      `the Plan build did not export ${name}; see its log (build ${BUILD_ID})`,
    );
  });

  test('a readJson failure is passed on', async () => {
    const readJson = async (): Promise<unknown> => {
      throw new Error('NoSuchKey');
    };
    await expect(runAnalyze(analyzeEvent(), readJson)).rejects.toThrow('NoSuchKey');
  });

  test('an invalid config string is refused', async () => {
    await expect(runAnalyze(analyzeEvent({ config: '{not json' }), reader(plan()).readJson)).rejects.toThrow('not valid JSON');
  });

  describe('approval.autoApproveS3Upgrades true', () => {
    const autoConfig = config({ autoApproveS3Upgrades: true });
    const lowRisk = plan(
      rc('module.gateway.helm_release.gateway', 'helm_release', 'update'),
      rc('module.gateway.aws_s3_bucket.data', 'aws_s3_bucket', 'create'),
    );

    test('an s3-triggered upgrade with a low-risk plan → auto-approve', async () => {
      const result = await runAnalyze(analyzeEvent({ config: autoConfig, trigger: 's3', change: 'upgrade' }), reader(lowRisk).readJson);
      expect(result.decision).toBe('auto-approve');
      expect(result.because).toBe('an S3-triggered upgrade whose plan is low risk and destroys nothing');
      expect(result.risk).toEqual({ level: 'low', reasons: [] });
      expect(result.line).toBe('Plan: 1 to add, 1 to change, 0 to destroy.');
    });

    test('the same plan started from the console → ask', async () => {
      const result = await runAnalyze(analyzeEvent({ config: autoConfig, trigger: 'console', change: 'upgrade' }), reader(lowRisk).readJson);
      expect(result.decision).toBe('ask');
    });

    test('an s3 upgrade that destroys something → ask', async () => {
      const p = plan(rc('module.gateway.aws_cloudwatch_log_group.old', 'aws_cloudwatch_log_group', 'delete'));
      const result = await runAnalyze(analyzeEvent({ config: autoConfig, trigger: 's3', change: 'upgrade' }), reader(p).readJson);
      expect(result).toMatchObject({ decision: 'ask', because: 'the plan destroys 1 resource(s)' });
    });
  });
});

describe('runAnalyze: a detach-vpc run reads the list-vpc build instead of a plan', () => {
  const LIST_KEY = 'reports/gw-prod/run-1/detach-vpc.json';
  const listBuild = (): BuildResult => ({
    buildId: BUILD_ID,
    exported: [
      { Name: 'DETACH_REPORT_KEY', Value: LIST_KEY },
      { Name: 'DETACH_COUNT', Value: '2' },
      { Name: 'PLAN_SHA256', Value: PLAN_SHA256 },
      { Name: 'PLAN_VERSION_ID', Value: 'v-list-1' },
    ],
  });
  const listReport = (addresses: unknown[]) => ({ operation: 'detach-vpc', status: 'listed', gateway: 'gw-prod', runId: 'run-1', stateBucket: 's', stateKey: 'k', addresses });
  const detachEvent = (extra: Partial<AnalyzeEvent['preflight']> = {}): AnalyzeEvent => ({
    config: config({ autoApproveS3Upgrades: true }),
    preflight: { trigger: 'console', change: 'same', operation: 'detach-vpc', ...extra },
    plan: listBuild(),
  });
  const serve = (body: unknown) => {
    const keys: string[] = [];
    return { keys, readJson: async (key: string) => (keys.push(key), body) };
  };
  const VPC = ['module.gateway.module.vpc.terraform_data.vpc[0]', 'module.gateway.module.vpc.aws_subnet.private[0]'];

  test('the addresses as "forget" changes, the detach line, always asked', async () => {
    const { keys, readJson } = serve(listReport(VPC));
    const analysis = await runAnalyze(detachEvent(), readJson);
    expect(keys).toEqual([LIST_KEY]);
    expect(analysis).toEqual({
      decision: 'ask',
      because: 'detaching resources from the Terraform state is always approved by an operator',
      line: 'Detach from Terraform state: 2 module.vpc resources (nothing is destroyed in AWS)',
      add: 0,
      change: 0,
      destroy: 0,
      hasChanges: true,
      risk: { level: 'medium', reasons: [expect.stringContaining('Terraform stops managing 2 module.vpc resource(s)')] },
      changes: VPC.map((address) => ({ address, action: 'forget' })),
      changesNotListed: 0,
      replaced: [],
      planPrefix: 'reports/gw-prod/run-1/',
      planJsonKey: LIST_KEY,
      planTextKey: LIST_KEY,
      planSha256: PLAN_SHA256,
      planVersionId: 'v-list-1',
    });
  });

  test('never auto-approved, even for an s3 trigger with auto-approval on', async () => {
    const analysis = await runAnalyze(detachEvent({ trigger: 's3', change: 'upgrade' }), serve(listReport(VPC)).readJson);
    expect(analysis.decision).toBe('ask');
  });

  test('no module.vpc resources → no-changes, risk none', async () => {
    const analysis = await runAnalyze(detachEvent(), serve(listReport([])).readJson);
    expect(analysis).toMatchObject({ decision: 'no-changes', hasChanges: false, line: 'Detach from Terraform state: 0 module.vpc resources (nothing is destroyed in AWS)', risk: { level: 'none' }, changes: [] });
  });

  test('a long list is cut like a plan, with the count of the rest', async () => {
    const many = Array.from({ length: MAX_LISTED_CHANGES + 7 }, (_, i) => `module.gateway.module.vpc.aws_route.r[${i}]`);
    const analysis = await runAnalyze(detachEvent(), serve(listReport(many)).readJson);
    expect(analysis.changes).toHaveLength(MAX_LISTED_CHANGES);
    expect(analysis.changesNotListed).toBe(7);
    expect(analysis.line).toContain(`${MAX_LISTED_CHANGES + 7} module.vpc resources`);
  });

  test('a list holding anything outside module.vpc is refused', async () => {
    await expect(runAnalyze(detachEvent(), serve(listReport([...VPC, 'module.gateway.terraform_data.cluster'])).readJson)).rejects.toThrow(
      `s3 object ${LIST_KEY} is not a list of module.vpc addresses`,
    );
    await expect(runAnalyze(detachEvent(), serve({ nope: true }).readJson)).rejects.toThrow('is not a list of module.vpc addresses');
  });

  test('a build without DETACH_REPORT_KEY names the variable and the build', async () => {
    const event = { ...detachEvent(), plan: { buildId: BUILD_ID, exported: [] } };
    await expect(runAnalyze(event, serve({}).readJson)).rejects.toThrow(`the list-vpc build did not export DETACH_REPORT_KEY; see its log (build ${BUILD_ID})`);
  });

  test('drift-check and deploy still read the plan', async () => {
    const { keys, readJson } = reader(plan(rc('module.gateway.x.y', 'x', 'update')));
    const analysis = await runAnalyze({ ...analyzeEvent(), preflight: { trigger: 'console', change: 'same', operation: 'drift-check' } }, readJson);
    expect(keys).toEqual([PLAN_JSON_KEY]);
    expect(analysis.decision).toBe('ask');
  });
});
