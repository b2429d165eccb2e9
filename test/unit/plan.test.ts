import {
  REDACTED,
  SENSITIVE,
  assessRisk,
  maskSensitive,
  redactPlan,
  redactText,
  secretRedactor,
  secretForms,
  summarizePlan,
  summaryAction,
  type ChangeAction,
  type ResourceChange,
  type TerraformPlan,
} from '../../lambdas/shared/domain/plan';
import { parseValues, secretStrings } from '../../lambdas/shared/domain/values';

/** What a JSON string holds for `s` between its quotes. */
const escaped = (s: string): string => JSON.stringify(s).slice(1, -1);

// The values secret, with credentials that need escaping in JSON: a quote, a backslash, a tab and a newline.
const VALUES_TEXT = [
  'tenant: "b7c2e9d0-5a1f-4e3b-9c8d-2f6a1e0b3c4d"',
  'auth:',
  '  domain: auth.acme.apheris.net',
  '  orchestrator:',
  '    clientId: "gw-client-8f2a7c"',
  '    clientSecret: "Zq8rT2vX9mK4\\tpL7n\\nW3yB6cD1"',
  'helmRepoUsername: "robot$apheris+acme"',
  "helmRepoPassword: 'hR7!kP2\"qW9\\xM4''$'",
  '',
].join('\n');
const VALUES = parseValues(VALUES_TEXT, 'gateways/prod/values');
const TENANT = VALUES.tenant;
const CLIENT_ID = VALUES.auth.orchestrator.clientId;
const CLIENT_SECRET = VALUES.auth.orchestrator.clientSecret;
const HELM_USER = VALUES.helmRepoUsername;
const HELM_PASSWORD = VALUES.helmRepoPassword;
/** What the build passes to redactPlan: the values' strings and the whole values.yaml text. */
const SECRETS = [...secretStrings(VALUES), VALUES_TEXT];
/** Redacted by kind: the credentials and the whole values text. The tenant is an identifier, left readable. */
const ALL_SECRETS = [CLIENT_ID, CLIENT_SECRET, HELM_USER, HELM_PASSWORD, VALUES_TEXT];

function expectNoSecret(text: string): void {
  for (const secret of ALL_SECRETS) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(escaped(secret));
  }
}

function rc(address: string, type: string, actions: ChangeAction[], extra: Partial<ResourceChange> = {}): ResourceChange {
  const at = address.lastIndexOf(`${type}.`);
  const moduleAddress = address.startsWith('module.') ? address.slice(0, at - 1) : undefined;
  return {
    address,
    ...(moduleAddress ? { module_address: moduleAddress } : {}),
    mode: 'managed',
    type,
    name: address.slice(at + type.length + 1).replace(/\[.*$/, ''),
    change: { actions },
    ...extra,
  };
}

const HELM_ADDRESS = 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]';

/** A plan as `terraform show -json tfplan` prints it for an upgrade of the gateway's Helm release. */
function realisticPlan(): TerraformPlan {
  const helmBefore = {
    name: 'apheris-gateway',
    namespace: 'apheris',
    chart: 'gateway-agent',
    version: '0.8.0',
    repository: 'oci://quay.io/apheris/charts',
    repository_username: HELM_USER,
    repository_password: HELM_PASSWORD,
    values: [VALUES_TEXT, 'dal:\n  sources: []\n'],
    set: [
      { name: 'agent.clientId', value: CLIENT_ID, type: '' },
      { name: 'auth.orchestrator.clientSecret', value: CLIENT_SECRET, type: 'string' },
    ],
    description: `Gateway for tenant ${TENANT}`,
  };
  return {
    format_version: '1.2',
    terraform_version: '1.9.8',
    applyable: true,
    complete: true,
    errored: false,
    variables: {
      helm_repository_username: { value: HELM_USER },
      helm_repository_password: { value: HELM_PASSWORD },
      helm_chart_values: { value: [VALUES_TEXT] },
      client_secret: { value: CLIENT_SECRET },
    },
    planned_values: {
      root_module: {
        child_modules: [
          {
            address: 'module.gateway',
            resources: [{ address: HELM_ADDRESS, values: { ...helmBefore, version: '0.8.1' }, sensitive_values: { repository_password: true } }],
          },
        ],
      },
    },
    prior_state: {
      format_version: '1.0',
      values: { root_module: { child_modules: [{ resources: [{ address: HELM_ADDRESS, values: helmBefore }] }] } },
    },
    configuration: {
      root_module: {
        module_calls: {
          gateway: {
            source: './gateway',
            expressions: { tenant_note: { constant_value: `tenant ${TENANT} client ${CLIENT_ID}` } },
          },
        },
        variables: { helm_repository_password: { sensitive: true } },
      },
    },
    resource_changes: [
      rc(HELM_ADDRESS, 'helm_release', ['update'], {
        module_address: 'module.gateway.module.gateway_agent[0]',
        change: {
          actions: ['update'],
          before: helmBefore,
          after: { ...helmBefore, version: '0.8.1' },
          after_unknown: { metadata: true },
          // before: element-wise; after: the whole list. Terraform prints either.
          before_sensitive: { repository_password: true, values: [true, false], set: [{}, {}] },
          after_sensitive: { repository_password: true, values: true, set: [{}, {}] },
        },
      }),
      rc('module.gateway.aws_eks_cluster.this', 'aws_eks_cluster', ['no-op'], {
        change: {
          actions: ['no-op'],
          before: { name: 'apheris-gateway', version: '1.30' },
          after: { name: 'apheris-gateway', version: '1.30' },
          before_sensitive: {},
          after_sensitive: {},
        },
      }),
      rc('data.aws_eks_cluster_auth.default', 'aws_eks_cluster_auth', ['read'], {
        mode: 'data',
        change: {
          actions: ['read'],
          before: null,
          after: { name: 'apheris-gateway', token: 'k8s-aws-v1.aHR0cHM6Ly9zdHMu' },
          after_sensitive: { token: true },
        },
      }),
      rc('module.gateway.aws_iam_role.dal', 'aws_iam_role', ['create'], {
        change: {
          actions: ['create'],
          before: null,
          after: { name: 'apheris-dal', description: `DAL role, client ${CLIENT_ID}`, tags: { Tenant: TENANT } },
          after_sensitive: { tags: {} },
        },
      }),
      rc('module.gateway.terraform_data.helm_values', 'terraform_data', ['update'], {
        change: {
          actions: ['update'],
          before: { input: { values_json: JSON.stringify({ tenant: TENANT }) } },
          after: { input: { values_json: JSON.stringify({ tenant: TENANT, user: HELM_USER }) } },
          before_sensitive: false,
          after_sensitive: false,
        },
      }),
    ],
    resource_drift: [
      rc(HELM_ADDRESS, 'helm_release', ['update'], {
        change: {
          actions: ['update'],
          before: { ...helmBefore, version: '0.7.9' },
          after: helmBefore,
          // No masks at all: only the known secrets can catch the password and the values text here.
          before_sensitive: false,
          after_sensitive: false,
        },
      }),
    ],
    output_changes: {
      dal_role_arn: { actions: ['create'], before: null, after: 'arn:aws:iam::123456789012:role/apheris-dal', before_sensitive: false, after_sensitive: false },
      helm_values: { actions: ['update'], before: 'old', after: VALUES_TEXT, before_sensitive: true, after_sensitive: true },
      cluster_name: { actions: ['no-op'], before: 'apheris-gateway', after: 'apheris-gateway', before_sensitive: false, after_sensitive: false },
    },
  };
}

describe('maskSensitive', () => {
  test('masks the parts of nested objects and lists marked true, keeps the rest', () => {
    const value = { a: { b: 'secret-b', c: 'plain-c' }, d: [1, 2, 3], e: 'plain-e', f: [{ user: 'u', password: 'p' }] };
    const mask = { a: { b: true }, d: [false, true], f: [{ password: true }] };
    expect(maskSensitive(value, mask)).toEqual({
      a: { b: SENSITIVE, c: 'plain-c' },
      d: [1, SENSITIVE, 3],
      e: 'plain-e',
      f: [{ user: 'u', password: SENSITIVE }],
    });
  });

  test('a whole-value mask replaces strings, objects and lists by one marker', () => {
    expect(maskSensitive('pw', true)).toBe(SENSITIVE);
    expect(maskSensitive({ a: 1 }, true)).toBe(SENSITIVE);
    expect(maskSensitive(['x', 'y'], true)).toBe(SENSITIVE);
    expect(maskSensitive(0, true)).toBe(SENSITIVE);
    expect(maskSensitive(false, true)).toBe(SENSITIVE);
    expect(maskSensitive({ list: ['x', 'y'] }, { list: true })).toEqual({ list: SENSITIVE });
  });

  test('null and absent values stay as they are, so a create or delete still reads as one', () => {
    expect(maskSensitive(null, true)).toBeNull();
    expect(maskSensitive(undefined, true)).toBeUndefined();
    expect(maskSensitive({ a: null }, { a: true })).toEqual({ a: null });
    expect(maskSensitive(null, { a: true })).toBeNull();
  });

  test('false, {}, null and absent masks keep the value', () => {
    const value = { a: 'x', b: ['y'] };
    for (const mask of [false, {}, null, undefined, { b: [] }, { b: [false] }]) {
      expect(maskSensitive(value, mask)).toEqual(value);
    }
  });

  test('does not mutate its input', () => {
    const value = { a: { b: 'secret' }, c: ['x'] };
    const copy = JSON.parse(JSON.stringify(value));
    maskSensitive(value, { a: { b: true }, c: [true] });
    expect(value).toEqual(copy);
  });
});

describe('secretForms and redactText', () => {
  test('each secret as is, JSON-escaped up to three times, URL-encoded, base64 at every alignment; longest first; empty ones ignored', () => {
    const forms = secretForms(['ab"c', 'plainsecret', '', 'plainsecret']);
    for (const form of ['ab"c', 'ab\\"c', 'ab\\\\\\"c', 'ab\\\\\\\\\\\\\\\"c', 'ab%22c', 'plainsecret']) expect(forms).toContain(form);
    // "plainsecret" in base64 after 0, 1 and 2 other bytes: the characters that encode only its own bytes.
    for (const core of ['cGxhaW5zZWNy', 'bGFpbnNlY3Jl', 'YWluc2VjcmV0']) expect(forms).toContain(core);
    expect(forms).not.toContain('');
    expect(forms.map((f) => f.length)).toEqual([...forms.map((f) => f.length)].sort((a, b) => b - a));
  });

  test("Go's escapes of <, >, &, U+2028 and U+2029 (Terraform's jsonencode), at every nesting level", () => {
    const secret = 'p&ss<wo>rd\u2028x\u2029';
    const goEscaped = 'p\\u0026ss\\u003cwo\\u003erd\\u2028x\\u2029';
    const forms = secretForms([secret]);
    expect(forms).toContain(goEscaped);
    // jsonencode(jsonencode(...)), and Go's form inside a JSON log line (JavaScript's escaping on top).
    expect(forms).toContain(goEscaped.replace(/\\/g, '\\\\'));
    const printedByTerraform = `values = ${JSON.stringify(JSON.stringify({ password: secret }))}`.replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(printedByTerraform).not.toContain(secret);
    expect(redactText(printedByTerraform, [secret])).toBe(`values = ${JSON.stringify(JSON.stringify({ password: REDACTED }))}`);
    expect(redactText(`Authorization: Basic ${Buffer.from(`u:${secret}`).toString('base64')}`, [secret])).toContain(REDACTED);
  });



  test('a secret containing another is replaced whole', () => {
    expect(redactText('x abc123xyz y abc123 z', ['abc123', 'abc123xyz'])).toBe(`x ${REDACTED} y ${REDACTED} z`);
  });

  test('replaces the escaped form inside JSON text', () => {
    const json = JSON.stringify({ v: `pre ${HELM_PASSWORD} post`, w: `a${CLIENT_SECRET}b` });
    const out = redactText(json, SECRETS);
    expectNoSecret(out);
    expect(JSON.parse(out)).toEqual({ v: `pre ${REDACTED} post`, w: `a${REDACTED}b` });
  });

  test('a redactor made once redacts each text as redactText does, and leaves clean text as it was', () => {
    const redact = secretRedactor(['abc123', 'abc123xyz', ...SECRETS]);
    const texts = ['x abc123xyz y abc123 z', JSON.stringify({ v: `pre ${HELM_PASSWORD} post` }), 'nothing secret here', ''];
    expect(texts.map(redact)).toEqual(texts.map((t) => redactText(t, ['abc123', 'abc123xyz', ...SECRETS])));
    expect(redact('x abc123xyz y')).toBe(`x ${REDACTED} y`);
    expect(redact('nothing secret here')).toBe('nothing secret here');
  });
});

describe('redactPlan', () => {
  test('the fixture has the secrets in every place the test checks (guards the fixture itself)', () => {
    const raw = JSON.stringify(realisticPlan());
    for (const secret of ALL_SECRETS) expect(raw).toContain(escaped(secret));
    expect(HELM_PASSWORD).toMatch(/["\\']/);
    expect(CLIENT_SECRET).toMatch(/\n/);
  });

  test('no secret, as is or JSON-escaped, is left anywhere', () => {
    expectNoSecret(JSON.stringify(redactPlan(realisticPlan(), SECRETS)));
    expectNoSecret(JSON.stringify(redactPlan(realisticPlan(), SECRETS), null, 2));
  });

  test('variables, planned values, prior state and configuration are dropped', () => {
    const redacted = redactPlan(realisticPlan(), SECRETS);
    expect(Object.keys(redacted).sort()).toEqual(
      ['applyable', 'complete', 'errored', 'format_version', 'output_changes', 'resource_changes', 'resource_drift', 'terraform_version'].sort(),
    );
    for (const key of ['variables', 'planned_values', 'prior_state', 'configuration', 'relevant_attributes', 'checks']) {
      expect(redacted).not.toHaveProperty(key);
    }
  });

  test('keeps the header fields, addresses, types, modes and actions', () => {
    const plan = realisticPlan();
    const redacted = redactPlan(plan, SECRETS);
    expect(redacted).toMatchObject({ format_version: '1.2', terraform_version: '1.9.8', applyable: true, complete: true, errored: false });
    expect(redacted.resource_changes!.map((r) => [r.address, r.module_address, r.mode, r.type, r.name, r.change.actions])).toEqual(
      plan.resource_changes!.map((r) => [r.address, r.module_address, r.mode, r.type, r.name, r.change.actions]),
    );
    expect(redacted.resource_drift!.map((r) => r.address)).toEqual([HELM_ADDRESS]);
    expect(Object.keys(redacted.output_changes!)).toEqual(['dal_role_arn', 'helm_values', 'cluster_name']);
    expect(summarizePlan(redacted)).toEqual(summarizePlan(plan));
  });

  test('masks what the plan marks sensitive and keeps the non-sensitive attributes', () => {
    const redacted = redactPlan(realisticPlan(), SECRETS);
    const helm = redacted.resource_changes![0].change;
    const after = helm.after as Record<string, unknown>;
    const before = helm.before as Record<string, unknown>;
    expect(after).toMatchObject({
      name: 'apheris-gateway',
      namespace: 'apheris',
      chart: 'gateway-agent',
      version: '0.8.1',
      repository: 'oci://quay.io/apheris/charts',
      repository_password: SENSITIVE,
      values: SENSITIVE,
    });
    expect(before).toMatchObject({ version: '0.8.0', repository_password: SENSITIVE, values: [SENSITIVE, 'dal:\n  sources: []\n'] });
    // The masks and after_unknown are kept for the reviewer.
    expect(helm.after_sensitive).toEqual({ repository_password: true, values: true, set: [{}, {}] });
    expect(helm.after_unknown).toEqual({ metadata: true });

    const token = redacted.resource_changes![2].change.after as Record<string, unknown>;
    expect(token).toEqual({ name: 'apheris-gateway', token: SENSITIVE });
    expect(redacted.resource_changes![1].change.after).toEqual({ name: 'apheris-gateway', version: '1.30' });
  });

  test('a secret in a NON-sensitive attribute is still replaced through the known secrets', () => {
    const redacted = redactPlan(realisticPlan(), SECRETS);
    const helmAfter = redacted.resource_changes![0].change.after as { set: Array<{ name: string; value: string }>; description: string; repository_username: string };
    expect(helmAfter.set).toEqual([
      { name: 'agent.clientId', value: REDACTED, type: '' },
      { name: 'auth.orchestrator.clientSecret', value: REDACTED, type: 'string' },
    ]);
    // The tenant is an identifier an operator needs: readable (redaction by kind, issue #18).
    expect(helmAfter.description).toBe(`Gateway for tenant ${TENANT}`);
    expect(helmAfter.repository_username).toBe(REDACTED);

    const role = redacted.resource_changes![3].change.after as { name: string; description: string; tags: Record<string, string> };
    expect(role).toEqual({ name: 'apheris-dal', description: `DAL role, client ${REDACTED}`, tags: { Tenant: TENANT } });

    // Drift carries no masks at all: the password and the whole values.yaml are caught by the secrets alone.
    const drift = redacted.resource_drift![0].change.after as { repository_password: string; values: string[] };
    expect(drift.repository_password).toBe(REDACTED);
    expect(drift.values).toEqual([REDACTED, 'dal:\n  sources: []\n']);
  });

  test('a sensitive output shows only the marker; a plain one keeps its value', () => {
    const outputs = redactPlan(realisticPlan(), SECRETS).output_changes!;
    expect(outputs.helm_values).toMatchObject({ actions: ['update'], before: SENSITIVE, after: SENSITIVE, after_sensitive: true });
    expect(outputs.dal_role_arn).toMatchObject({ actions: ['create'], before: null, after: 'arn:aws:iam::123456789012:role/apheris-dal' });
    expect(outputs.cluster_name.after).toBe('apheris-gateway');
  });

  test('a plain secret inside a JSON-encoded attribute is replaced', () => {
    const redacted = redactPlan(realisticPlan(), SECRETS);
    const input = (redacted.resource_changes![4].change.after as { input: { values_json: string } }).input;
    expect(JSON.parse(input.values_json)).toEqual({ tenant: TENANT, user: REDACTED });
  });

  // Found by these tests and fixed: a secret with a quote or backslash inside an attribute that itself holds
  // encoded text (jsonencode, a YAML double-quoted scalar) is escaped twice in the plan JSON.
  test('a secret with a quote inside a JSON-encoded attribute is replaced too', () => {
    const plan: TerraformPlan = {
      resource_changes: [
        rc('module.gateway.terraform_data.helm_release', 'terraform_data', ['create'], {
          change: {
            actions: ['create'],
            before: null,
            after: { input: { login: JSON.stringify({ username: HELM_USER, password: HELM_PASSWORD }) } },
            after_sensitive: false,
          },
        }),
      ],
    };
    const redacted = redactPlan(plan, SECRETS);
    const login = (redacted.resource_changes![0].change.after as { input: { login: string } }).input.login;
    expectNoSecret(login);
    expect(JSON.parse(login).password).not.toBe(HELM_PASSWORD);
  });

  test('does not mutate the plan it is given', () => {
    const plan = realisticPlan();
    const copy = JSON.parse(JSON.stringify(plan));
    redactPlan(plan, SECRETS);
    expect(plan).toEqual(copy);
  });

  test('an empty plan and no secrets', () => {
    expect(redactPlan({}, [])).toEqual({ resource_changes: [], resource_drift: [], output_changes: {} });
  });
});

describe('summaryAction', () => {
  test.each<[ChangeAction[], string | null]>([
    [['no-op'], null],
    [['read'], null],
    [['create'], 'create'],
    [['update'], 'update'],
    [['delete'], 'delete'],
    [['delete', 'create'], 'replace'],
    [['create', 'delete'], 'replace'],
  ])('%j -> %s', (actions, expected) => {
    expect(summaryAction(actions)).toBe(expected);
  });
});

describe('summarizePlan', () => {
  const changes = (...rcs: ResourceChange[]): TerraformPlan => ({ resource_changes: rcs });

  test('counts like Terraform: a replacement is one to add and one to destroy', () => {
    const summary = summarizePlan(
      changes(
        rc('module.gateway.aws_iam_role.dal', 'aws_iam_role', ['delete', 'create']),
        rc('module.gateway.helm_release.gateway_agent', 'helm_release', ['update']),
        rc('module.gateway.aws_s3_bucket_policy.data', 'aws_s3_bucket_policy', ['update']),
        rc('module.gateway.aws_eks_cluster.this', 'aws_eks_cluster', ['no-op']),
      ),
    );
    expect(summary).toMatchObject({ add: 1, change: 2, destroy: 1, line: 'Plan: 1 to add, 2 to change, 1 to destroy.', hasChanges: true });
    expect(summary.replaced).toEqual(['module.gateway.aws_iam_role.dal']);
    expect(summary.changes).toEqual([
      { address: 'module.gateway.aws_iam_role.dal', action: 'replace' },
      { address: 'module.gateway.helm_release.gateway_agent', action: 'update' },
      { address: 'module.gateway.aws_s3_bucket_policy.data', action: 'update' },
    ]);
  });

  test('a plan that only forgets (Terraform removed blocks) is a change, named as Terraform names it', () => {
    const summary = summarizePlan(changes(rc('module.gateway.module.vpc.aws_vpc.this', 'aws_vpc', ['forget'])));
    expect(summary).toMatchObject({ add: 0, change: 0, destroy: 0, line: 'Plan: 0 to add, 0 to change, 0 to destroy, 1 to forget.', hasChanges: true });
    expect(summary.changes).toEqual([{ address: 'module.gateway.module.vpc.aws_vpc.this', action: 'forget' }]);
  });

  test('creates, deletes and create_before_destroy replacements', () => {
    const summary = summarizePlan(
      changes(
        rc('aws_s3_bucket.a', 'aws_s3_bucket', ['create']),
        rc('aws_s3_bucket.b', 'aws_s3_bucket', ['create']),
        rc('aws_s3_bucket.c', 'aws_s3_bucket', ['delete']),
        rc('aws_launch_template.node', 'aws_launch_template', ['create', 'delete']),
      ),
    );
    expect(summary.line).toBe('Plan: 3 to add, 0 to change, 2 to destroy.');
    expect(summary.replaced).toEqual(['aws_launch_template.node']);
  });

  test('data sources and no-op/read are ignored', () => {
    const summary = summarizePlan(
      changes(
        rc('data.aws_eks_cluster_auth.default', 'aws_eks_cluster_auth', ['read'], { mode: 'data' }),
        // A data source that Terraform plans to read again still is no infrastructure change.
        rc('data.aws_caller_identity.current', 'aws_caller_identity', ['delete', 'create'], { mode: 'data' }),
        rc('module.gateway.aws_eks_cluster.this', 'aws_eks_cluster', ['no-op']),
      ),
    );
    expect(summary).toEqual({
      add: 0,
      change: 0,
      destroy: 0,
      line: 'Plan: 0 to add, 0 to change, 0 to destroy.',
      hasChanges: false,
      changes: [],
      replaced: [],
      outputsChanged: [],
    });
  });

  test('hasChanges is false for an all no-op plan, including no-op outputs', () => {
    const plan: TerraformPlan = {
      resource_changes: [rc('aws_vpc.this', 'aws_vpc', ['no-op'])],
      output_changes: { cluster_name: { actions: ['no-op'], before: 'x', after: 'x' } },
    };
    expect(summarizePlan(plan)).toMatchObject({ hasChanges: false, outputsChanged: [] });
    expect(summarizePlan({}).hasChanges).toBe(false);
  });

  test('hasChanges is true when only outputs change', () => {
    const plan: TerraformPlan = {
      resource_changes: [rc('aws_vpc.this', 'aws_vpc', ['no-op'])],
      output_changes: {
        dal_role_arn: { actions: ['create'], after: 'arn:aws:iam::123456789012:role/x' },
        cluster_name: { actions: ['no-op'], before: 'x', after: 'x' },
        endpoint: { actions: ['update'], before: 'a', after: 'b' },
      },
    };
    expect(summarizePlan(plan)).toMatchObject({ line: 'Plan: 0 to add, 0 to change, 0 to destroy.', hasChanges: true, outputsChanged: ['dal_role_arn', 'endpoint'] });
  });
});

describe('assessRisk', () => {
  const risk = (...rcs: ResourceChange[]) => {
    const plan: TerraformPlan = { resource_changes: rcs };
    return assessRisk(summarizePlan(plan), plan);
  };

  test('none when nothing changes', () => {
    expect(risk(rc('aws_eks_cluster.this', 'aws_eks_cluster', ['no-op']))).toEqual({ level: 'none', reasons: [] });
    expect(assessRisk(summarizePlan({}), {})).toEqual({ level: 'none', reasons: [] });
  });

  test('low for creates and in-place updates, even of the cluster, IAM, the VPC or node pools', () => {
    expect(
      risk(
        rc('module.gateway.aws_eks_cluster.this', 'aws_eks_cluster', ['update']),
        rc('module.gateway.aws_iam_role.dal', 'aws_iam_role', ['update']),
        rc('module.gateway.module.vpc.aws_subnet.private[0]', 'aws_subnet', ['update']),
        rc('module.gateway.kubectl_manifest.karpenter_node_pool["gpu"]', 'kubectl_manifest', ['update']),
        rc('module.gateway.aws_iam_policy.extra', 'aws_iam_policy', ['create']),
        rc('module.gateway.aws_eks_node_group.gpu', 'aws_eks_node_group', ['create']),
      ),
    ).toEqual({ level: 'low', reasons: [] });
  });

  test('low when only outputs change', () => {
    const plan: TerraformPlan = { output_changes: { endpoint: { actions: ['update'], before: 'a', after: 'b' } } };
    expect(assessRisk(summarizePlan(plan), plan)).toEqual({ level: 'low', reasons: [] });
  });

  test.each<[string, string, string]>([
    ['module.gateway.module.eks.aws_eks_cluster.this', 'aws_eks_cluster', 'the EKS cluster'],
    ['aws_eks_cluster.main', 'aws_eks_cluster', 'the EKS cluster'],
    ['module.gateway.terraform_data.cluster', 'terraform_data', 'the EKS cluster'],
    ['module.gateway.aws_eks_node_group.default', 'aws_eks_node_group', 'node groups'],
    ['x.aws_eks_node_group.gpu["a10g"]', 'aws_eks_node_group', 'node groups'],
    ['module.gateway.kubectl_manifest.karpenter_node_pool["gpu"]', 'kubectl_manifest', 'Karpenter node pools'],
    ['module.gateway.helm_release.karpenter', 'helm_release', 'Karpenter node pools'],
    ['aws_vpc.this', 'aws_vpc', 'the VPC or its subnets'],
    ['aws_subnet.a', 'aws_subnet', 'the VPC or its subnets'],
    ['module.gateway.module.vpc.aws_route_table_association.private[1]', 'aws_route_table_association', 'the VPC or its subnets'],
    ['module.vpc.aws_eip.nat[0]', 'aws_eip', 'the VPC or its subnets'],
    ['module.gateway.module.vpc.aws_eip.nat[0]', 'aws_eip', 'the VPC or its subnets'],
    ['module.gateway.aws_iam_role.dal', 'aws_iam_role', 'IAM'],
    ['module.gateway.aws_iam_role_policy_attachment.dal_s3', 'aws_iam_role_policy_attachment', 'IAM'],
  ])('high when %s (%s) is destroyed or replaced: names %s', (address, type, what) => {
    for (const [actions, verb] of [
      [['delete'], 'destroys'],
      [['delete', 'create'], 'replaces'],
      [['create', 'delete'], 'replaces'],
    ] as Array<[ChangeAction[], string]>) {
      expect(risk(rc(address, type, actions))).toEqual({ level: 'high', reasons: [`${verb} ${what}: ${address}`] });
    }
  });

  test.each<[string, string]>([
    ['module.gateway.aws_s3_bucket_policy.x', 'aws_s3_bucket_policy'],
    ['module.gateway.terraform_data.dal_role', 'terraform_data'],
    ['module.gateway.aws_sqs_queue.events', 'aws_sqs_queue'],
    ['module.gateway.kubernetes_namespace.apheris', 'kubernetes_namespace'],
    ['module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]', 'helm_release'],
  ])('medium when %s (%s) is destroyed or replaced', (address, type) => {
    expect(risk(rc(address, type, ['delete']))).toEqual({ level: 'medium', reasons: [`destroys ${address}`] });
    expect(risk(rc(address, type, ['delete', 'create']))).toEqual({ level: 'medium', reasons: [`replaces ${address}`] });
  });

  // Reported: the VPC type pattern has no end anchor, so "aws_route" also matches aws_route53_*.
  test('a Route 53 record is not "the VPC or its subnets"', () => {
    expect(risk(rc('module.gateway.aws_route53_record.gateway', 'aws_route53_record', ['delete', 'create']))).toEqual({
      level: 'medium',
      reasons: ['replaces module.gateway.aws_route53_record.gateway'],
    });
  });

  test('high wins over medium whatever the order, and every destroy or replace is listed', () => {
    const verdict = risk(
      rc('module.gateway.aws_s3_bucket_policy.x', 'aws_s3_bucket_policy', ['delete']),
      rc('module.gateway.aws_iam_role.dal', 'aws_iam_role', ['delete', 'create']),
      rc('module.gateway.helm_release.gateway_agent', 'helm_release', ['update']),
      rc('module.gateway.terraform_data.dal_role', 'terraform_data', ['create', 'delete']),
    );
    expect(verdict).toEqual({
      level: 'high',
      reasons: [
        'destroys module.gateway.aws_s3_bucket_policy.x',
        'replaces IAM: module.gateway.aws_iam_role.dal',
        'replaces module.gateway.terraform_data.dal_role',
      ],
    });
  });

  test('data sources never raise the risk', () => {
    expect(risk(rc('data.aws_eks_cluster.this', 'aws_eks_cluster', ['delete', 'create'], { mode: 'data' }))).toEqual({ level: 'none', reasons: [] });
  });

  test('the redacted plan is judged the same as the raw one', () => {
    const plan = realisticPlan();
    const redacted = redactPlan(plan, SECRETS);
    expect(assessRisk(summarizePlan(redacted), redacted)).toEqual(assessRisk(summarizePlan(plan), plan));
  });
});
