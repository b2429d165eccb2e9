/**
 * Which Helm release a "cannot re-use a name that is still in use" is about: Terraform's diagnostics, the
 * `with <address>,` line, the plan's resource_changes, and the words operators get for each kind of release.
 */
import {
  describeNameReuse,
  failingReleases,
  isGatewayRelease,
  isNamespace,
  isReleaseName,
  mentionsNameReuse,
  plannedReleaseAt,
  releaseNamedIn,
  terraformDiagnostics,
  type FailingRelease,
} from '../../lambdas/shared/domain/helm-name-reuse';
import type { ResourceChange, TerraformPlan } from '../../lambdas/shared/domain/plan';

const GATEWAY_ADDRESS = 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]';
const PROMETHEUS_ADDRESS = 'module.monitoring.helm_release.prometheus';
const SAMPLE_ADDRESS = 'module.gateway.module.gateway_agent.terraform_data.helm_release';

/** helm provider 2.x, boxed: the FAQ of the HOWTO "Deploying on AWS EKS", verbatim. */
const PROVIDER_2_BOXED = (address: string) =>
  [
    `${address}: Creating...`,
    '╷',
    '│ Error: cannot re-use a name that is still in use',
    '│',
    `│   with ${address},`,
    '│   on .terraform/modules/gateway.gateway_agent/gateway/modules/gateway_agent/gateway_agent.tf line 17, in resource "helm_release" "gateway_agent":',
    '│   17: resource "helm_release" "gateway_agent" {',
    '╵',
  ].join('\n');

/** helm provider 3.x, plain (-no-color): the summary is "installation failed", Helm's words are the detail. */
const PROVIDER_3_PLAIN = (address: string) =>
  [
    `${address}: Creating...`,
    '',
    'Error: installation failed',
    '',
    `  with ${address},`,
    '  on main.tf line 3, in resource "helm_release" "prometheus":',
    '   3: resource "helm_release" "prometheus" {',
    '',
    'cannot re-use a name that is still in use',
    '',
  ].join('\n');

/** A `helm install` in a local-exec provisioner (the tests' sample module), as Terraform 1.11 prints it: wrapped. */
const LOCAL_EXEC = [
  `${SAMPLE_ADDRESS} (local-exec): Error: INSTALLATION FAILED: cannot re-use a name that is still in use`,
  '',
  'Error: local-exec provisioner error',
  '',
  `  with ${SAMPLE_ADDRESS},`,
  '  on gateway/modules/gateway_agent/main.tf line 22, in resource "terraform_data" "helm_release":',
  '  22:   provisioner "local-exec" {',
  '',
  'Error running command \'helm install "$RELEASE" "$CHART" --namespace "$NAMESPACE" --version',
  '"$CHART_VERSION"',
  "': exit status 1. Output: Error: INSTALLATION FAILED: cannot re-use a name",
  'that is still in use',
  '',
].join('\n');

const helmRelease = (address: string, after: Record<string, unknown> | null): ResourceChange => ({
  address,
  mode: 'managed',
  type: 'helm_release',
  name: address.split('.').pop()!.replace(/\[.*$/, ''),
  change: { actions: ['create'], before: null, after },
});
const terraformData = (address: string, input: unknown): ResourceChange => ({
  address,
  mode: 'managed',
  type: 'terraform_data',
  name: 'helm_release',
  change: { actions: ['create'], before: null, after: { input, triggers_replace: null } },
});
const planWith = (...changes: ResourceChange[]): TerraformPlan => ({ format_version: '1.2', resource_changes: changes });

const GATEWAY_PLAN = planWith(helmRelease(GATEWAY_ADDRESS, { name: 'apheris-gateway', namespace: 'apheris', chart: 'gateway-agent' }));
const PROMETHEUS_PLAN = planWith(helmRelease(PROMETHEUS_ADDRESS, { name: 'prometheus', namespace: 'monitoring' }));

describe('mentionsNameReuse', () => {
  test.each([
    ['one line', 'Error: cannot re-use a name that is still in use'],
    ['wrapped over lines', 'Output: Error: INSTALLATION FAILED: cannot re-use a name\nthat is still in use'],
    ['wrapped inside the box', '│ cannot re-use a\n│ name that is still in use'],
    ['any case', 'CANNOT RE-USE A NAME THAT IS STILL IN USE'],
  ])('%s', (_, output) => expect(mentionsNameReuse(output)).toBe(true));

  test('another Helm error is not it', () => {
    expect(mentionsNameReuse('Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress')).toBe(false);
  });
});

describe('terraformDiagnostics', () => {
  test('boxed: summary and the resource of the "with" line, the box characters gone', () => {
    expect(terraformDiagnostics(PROVIDER_2_BOXED(GATEWAY_ADDRESS))).toEqual([
      expect.objectContaining({ severity: 'Error', summary: 'cannot re-use a name that is still in use', address: GATEWAY_ADDRESS }),
    ]);
  });

  test('plain: the detail after the source lines belongs to the diagnostic', () => {
    const [diagnostic] = terraformDiagnostics(PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS));
    expect(diagnostic).toMatchObject({ summary: 'installation failed', address: PROMETHEUS_ADDRESS });
    expect(diagnostic.text).toContain('cannot re-use a name that is still in use');
  });

  test('an "Error:" a tool printed inside the detail does not start a diagnostic of its own', () => {
    const output = ['Error: local-exec provisioner error', '', `  with ${SAMPLE_ADDRESS},`, '', 'Output:', 'Error: INSTALLATION FAILED: cannot re-use a name', 'that is still in use'].join('\n');
    const diagnostics = terraformDiagnostics(output);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ summary: 'local-exec provisioner error', address: SAMPLE_ADDRESS });
    expect(diagnostics[0].text).toContain('INSTALLATION FAILED');
  });

  test('streamed progress before the first diagnostic is in none', () => {
    expect(terraformDiagnostics(LOCAL_EXEC).map((d) => d.summary)).toEqual(['local-exec provisioner error']);
  });

  test('several diagnostics, errors and warnings, each with its own resource', () => {
    const output = [
      PROVIDER_2_BOXED(GATEWAY_ADDRESS),
      '╷',
      '│ Warning: Argument is deprecated',
      '│',
      '│   with module.gateway.aws_s3_bucket.logs,',
      '╵',
      PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS),
    ].join('\n');
    expect(terraformDiagnostics(output).map((d) => [d.severity, d.address])).toEqual([
      ['Error', GATEWAY_ADDRESS],
      ['Warning', 'module.gateway.aws_s3_bucket.logs'],
      ['Error', PROMETHEUS_ADDRESS],
    ]);
  });

  test('an address with a string key that holds a comma and a space is read whole', () => {
    const address = 'module.addons["a, b"].helm_release.this["x y"]';
    expect(terraformDiagnostics(PROVIDER_3_PLAIN(address))[0].address).toBe(address);
  });

  test('a diagnostic without a "with" line has no address', () => {
    expect(terraformDiagnostics('Error: cannot re-use a name that is still in use\n\n')[0]).not.toHaveProperty('address');
  });

  test('no diagnostics at all', () => {
    expect(terraformDiagnostics('Apply complete! Resources: 3 added, 0 changed, 0 destroyed.')).toEqual([]);
  });
});

describe('releaseNamedIn', () => {
  test("Helm 2's message names the release", () => {
    expect(releaseNamedIn('Error: UPGRADE FAILED: a released named test-release is in use, cannot re-use a name that is still in use')).toBe('test-release');
  });

  test('quoted, and wrapped over lines', () => {
    expect(releaseNamedIn('a release named "prometheus"\nis in use')).toBe('prometheus');
  });

  test("Helm 3's message names none", () => {
    expect(releaseNamedIn('Error: INSTALLATION FAILED: cannot re-use a name that is still in use')).toBeUndefined();
  });

  test('a name that is no Helm release name is not taken', () => {
    expect(releaseNamedIn('a released named $(rm -rf /) is in use')).toBeUndefined();
  });
});

describe('isReleaseName, isNamespace', () => {
  test.each(['apheris-gateway', 'prometheus', 'a', 'kube-prometheus-stack.v2'])('release name %s', (name) => expect(isReleaseName(name)).toBe(true));
  test.each(['', 'Apheris', '-x', 'x-', 'a'.repeat(54), '(sensitive)', '(redacted)', 'a b', 42])('not a release name: %p', (name) => expect(isReleaseName(name)).toBe(false));
  test.each(['apheris', 'kube-system', 'a'.repeat(63)])('namespace %s', (ns) => expect(isNamespace(ns)).toBe(true));
  test.each(['', 'a.b', 'Apheris', 'a'.repeat(64), '(sensitive)', undefined])('not a namespace: %p', (ns) => expect(isNamespace(ns)).toBe(false));
});

describe('isGatewayRelease', () => {
  test('apheris-gateway in apheris, as the HOWTO creates it', () => expect(isGatewayRelease('apheris-gateway', 'apheris')).toBe(true));
  test('the same name in another namespace is not the gateway\'s', () => expect(isGatewayRelease('apheris-gateway', 'apheris-staging')).toBe(false));
  test('another name in the gateway\'s namespace is not the gateway\'s', () => expect(isGatewayRelease('prometheus', 'apheris')).toBe(false));
});

describe('plannedReleaseAt', () => {
  test('a helm_release: its name and namespace attributes', () => {
    expect(plannedReleaseAt(PROMETHEUS_PLAN, PROMETHEUS_ADDRESS)).toEqual({ name: 'prometheus', namespace: 'monitoring' });
  });

  test('a helm_release without a namespace: the provider\'s default namespace', () => {
    expect(plannedReleaseAt(planWith(helmRelease('helm_release.x', { name: 'x' })), 'helm_release.x')).toEqual({ name: 'x', namespace: 'default' });
  });

  test('a terraform_data that runs helm install: the name and namespace of its input', () => {
    const plan = planWith(terraformData(SAMPLE_ADDRESS, { name: 'apheris-gateway', namespace: 'apheris', chart_version: '0.16.20' }));
    expect(plannedReleaseAt(plan, SAMPLE_ADDRESS)).toEqual({ name: 'apheris-gateway', namespace: 'apheris' });
  });

  test('a terraform_data without a namespace in its input: no default is assumed', () => {
    const plan = planWith(terraformData(SAMPLE_ADDRESS, { name: 'apheris-gateway' }));
    expect(plannedReleaseAt(plan, SAMPLE_ADDRESS)).toEqual({ reason: expect.stringContaining('no namespace') });
  });

  test('an address the plan does not change', () => {
    expect(plannedReleaseAt(GATEWAY_PLAN, PROMETHEUS_ADDRESS)).toEqual({ reason: `${PROMETHEUS_ADDRESS} is not among the plan's resource changes` });
  });

  test('only an exact address counts (another instance key is another resource)', () => {
    expect(plannedReleaseAt(GATEWAY_PLAN, GATEWAY_ADDRESS.replace('[0]', '[1]'))).toHaveProperty('reason');
  });

  test('a data source of that address is not the resource', () => {
    const plan = planWith({ ...helmRelease(PROMETHEUS_ADDRESS, { name: 'prometheus', namespace: 'monitoring' }), mode: 'data' });
    expect(plannedReleaseAt(plan, PROMETHEUS_ADDRESS)).toHaveProperty('reason');
  });

  test('a resource of another type', () => {
    const plan = planWith({ ...helmRelease('kubernetes_manifest.x', { name: 'x', namespace: 'y' }), type: 'kubernetes_manifest' });
    expect(plannedReleaseAt(plan, 'kubernetes_manifest.x')).toEqual({ reason: 'kubernetes_manifest.x is a kubernetes_manifest, not a helm_release' });
  });

  test('a name unknown until apply', () => {
    expect(plannedReleaseAt(planWith(helmRelease('helm_release.x', { namespace: 'y' })), 'helm_release.x')).toEqual({ reason: expect.stringContaining('no release name') });
  });

  test.each(['(sensitive)', '(redacted)'])('a name masked as %s', (masked) => {
    expect(plannedReleaseAt(planWith(helmRelease('helm_release.x', { name: masked, namespace: 'y' })), 'helm_release.x')).toHaveProperty('reason');
  });

  test('a namespace masked', () => {
    expect(plannedReleaseAt(planWith(helmRelease('helm_release.x', { name: 'x', namespace: '(sensitive)' })), 'helm_release.x')).toHaveProperty('reason');
  });

  test('a resource being deleted (no after)', () => {
    expect(plannedReleaseAt(planWith(helmRelease('helm_release.x', null)), 'helm_release.x')).toHaveProperty('reason');
  });

  test('a plan without resource_changes', () => {
    expect(plannedReleaseAt({}, 'helm_release.x')).toHaveProperty('reason');
  });
});

describe('failingReleases', () => {
  test("the HOWTO's FAQ error about the gateway's helm_release: the gateway's release", () => {
    expect(failingReleases(PROVIDER_2_BOXED(GATEWAY_ADDRESS), GATEWAY_PLAN)).toEqual([
      { kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: GATEWAY_ADDRESS },
    ]);
  });

  test('helm provider 3.x about prometheus in monitoring: another release', () => {
    expect(failingReleases(PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS), PROMETHEUS_PLAN)).toEqual([
      { kind: 'other', name: 'prometheus', namespace: 'monitoring', address: PROMETHEUS_ADDRESS },
    ]);
  });

  test('the same helm_release of the gateway module naming another release is another release', () => {
    const plan = planWith(helmRelease(GATEWAY_ADDRESS, { name: 'gateway-two', namespace: 'apheris' }));
    expect(failingReleases(PROVIDER_2_BOXED(GATEWAY_ADDRESS), plan)).toEqual([{ kind: 'other', name: 'gateway-two', namespace: 'apheris', address: GATEWAY_ADDRESS }]);
  });

  test('a local-exec helm install, wrapped, its words also in the streamed output: one release, from the diagnostic', () => {
    const plan = planWith(terraformData(SAMPLE_ADDRESS, { name: 'apheris-gateway', namespace: 'apheris' }));
    expect(failingReleases(LOCAL_EXEC, plan)).toEqual([{ kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: SAMPLE_ADDRESS }]);
  });

  test('without the plan, even the gateway\'s own address stays unidentified', () => {
    expect(failingReleases(PROVIDER_2_BOXED(GATEWAY_ADDRESS), null)).toEqual([
      { kind: 'unidentified', address: GATEWAY_ADDRESS, reason: `the run's plan was not available to look up ${GATEWAY_ADDRESS}` },
    ]);
    expect(failingReleases(PROVIDER_2_BOXED(GATEWAY_ADDRESS))).toEqual([expect.objectContaining({ kind: 'unidentified' })]);
  });

  test('an address the plan does not hold: unidentified, never the gateway', () => {
    expect(failingReleases(PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS), GATEWAY_PLAN)).toEqual([
      { kind: 'unidentified', address: PROMETHEUS_ADDRESS, reason: `${PROMETHEUS_ADDRESS} is not among the plan's resource changes` },
    ]);
  });

  test('the words only in streamed output, no diagnostic: one unidentified release', () => {
    expect(failingReleases(`${SAMPLE_ADDRESS} (local-exec): Error: INSTALLATION FAILED: cannot re-use a name that is still in use`, GATEWAY_PLAN)).toEqual([
      { kind: 'unidentified', reason: 'Terraform named no resource for the error (no "with <address>," line)' },
    ]);
  });

  test('a message that names the release the plan agrees with', () => {
    const output = PROVIDER_2_BOXED(GATEWAY_ADDRESS).replace('Error: cannot', 'Error: a released named apheris-gateway is in use, cannot');
    expect(failingReleases(output, GATEWAY_PLAN)).toEqual([{ kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: GATEWAY_ADDRESS }]);
  });

  test('a message that names another release than the plan: unidentified, the conflict said', () => {
    const output = PROVIDER_2_BOXED(GATEWAY_ADDRESS).replace('Error: cannot', 'Error: a released named prometheus is in use, cannot');
    expect(failingReleases(output, GATEWAY_PLAN)).toEqual([
      { kind: 'unidentified', address: GATEWAY_ADDRESS, reason: `the error names the release prometheus, but the plan has ${GATEWAY_ADDRESS} install apheris-gateway` },
    ]);
  });

  test('a message that names the release without any resource: named, but its namespace unknown, so unidentified', () => {
    const [release] = failingReleases('Error: a released named apheris-gateway is in use, cannot re-use a name that is still in use\n\n', GATEWAY_PLAN);
    expect(release).toMatchObject({ kind: 'unidentified', name: 'apheris-gateway' });
    expect((release as { reason: string }).reason).toMatch(/not its namespace/);
  });

  test('two resources failing, the gateway\'s and another: both, in order', () => {
    const plan = planWith(...GATEWAY_PLAN.resource_changes!, ...PROMETHEUS_PLAN.resource_changes!);
    expect(failingReleases(`${PROVIDER_2_BOXED(GATEWAY_ADDRESS)}\n${PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS)}`, plan).map((r) => r.kind)).toEqual(['gateway', 'other']);
  });

  test('another error beside the name reuse is not a release', () => {
    const output = `${PROVIDER_3_PLAIN(PROMETHEUS_ADDRESS)}\nError: creating IAM Role (dal): AccessDenied\n\n  with module.gateway.aws_iam_role.dal,\n`;
    expect(failingReleases(output, PROMETHEUS_PLAN)).toHaveLength(1);
  });

  test('no name reuse: no release', () => {
    expect(failingReleases('Error: Saved plan is stale\n\n', GATEWAY_PLAN)).toEqual([]);
  });
});

describe('describeNameReuse', () => {
  const gateway: FailingRelease = { kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: GATEWAY_ADDRESS };
  const prometheus: FailingRelease = { kind: 'other', name: 'prometheus', namespace: 'monitoring', address: PROMETHEUS_ADDRESS };
  const unknown: FailingRelease = { kind: 'unidentified', address: PROMETHEUS_ADDRESS, reason: 'the plan shows no release name' };

  test("the gateway's release: the HOWTO's FAQ with its exact command", () => {
    const { summary, advice } = describeNameReuse([gateway]);
    expect(summary).toBe("the gateway's Helm release apheris-gateway (namespace apheris) exists on the cluster but not in the Terraform state");
    expect(advice).toContain('helm uninstall apheris-gateway -n apheris');
    expect(advice).toContain('"Deploying on AWS EKS"');
    expect(advice).toMatch(/not managed by another system/);
  });

  test('another release: named with its namespace and resource, its own command, never the gateway\'s', () => {
    const { summary, advice } = describeNameReuse([prometheus]);
    expect(summary).toContain('prometheus (namespace monitoring)');
    expect(summary).toContain(PROMETHEUS_ADDRESS);
    expect(summary).toContain("not the gateway's release");
    expect(advice).toContain('helm uninstall prometheus -n monitoring');
    expect(advice).toContain('does not uninstall it');
    expect(advice).toMatch(/not managed by another system/);
    expect(advice).toMatch(/another name/);
    expect(advice).not.toContain('helm uninstall apheris-gateway');
  });

  test('an unidentified release: the reason, a command with placeholders, no release assumed', () => {
    const { summary, advice } = describeNameReuse([unknown]);
    expect(summary).toContain('the plan shows no release name');
    expect(advice).toContain('helm uninstall <name> -n <namespace>');
    expect(advice).toContain('uninstalls nothing');
    expect(`${summary} ${advice}`).not.toContain('apheris-gateway');
  });

  test('none known: described as unidentified', () => {
    expect(describeNameReuse([]).summary).toMatch(/could not be told/);
  });

  test('several: every release named, each piece of advice once', () => {
    const { summary, advice } = describeNameReuse([gateway, prometheus, { ...prometheus, name: 'loki', address: 'helm_release.loki' }]);
    expect(summary.split('; ').length).toBeGreaterThanOrEqual(3);
    expect(advice).toContain('helm uninstall apheris-gateway -n apheris');
    expect(advice).toContain('helm uninstall prometheus -n monitoring');
    expect(advice).toContain('helm uninstall loki -n monitoring');
  });

  test('operator text never says "seed"', () => {
    const { summary, advice } = describeNameReuse([gateway, prometheus, unknown]);
    expect(`${summary} ${advice}`).not.toMatch(/seed/i);
  });
});
