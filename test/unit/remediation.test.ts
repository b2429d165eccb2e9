/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use" as an operation: which Apply failure has a
 * remediation (only the gateway's own release), what the release inspection's finding means, and the Remediate
 * function reading its reports from S3 (mocked with aws-sdk-client-mock).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { RemediateEvent } from '../../lambdas/remediate/index';
import { DeploymentError } from '../../lambdas/shared/domain/errors';
import type { FailingRelease } from '../../lambdas/shared/domain/helm-name-reuse';
import type { TerraformPlan } from '../../lambdas/shared/domain/plan';
import { diagnoseTerraformFailure } from '../../lambdas/shared/domain/terraform-failures';
import {
  RELEASE_NAME,
  RELEASE_NAMESPACE,
  ReleaseManagedElsewhere,
  decideUninstall,
  isGatewayReleaseOnly,
  remediationFor,
  type ReleaseInspection,
} from '../../lambdas/shared/domain/remediation';

const REPORT_KEY = 'reports/gw-prod/run-42/release-inspection.json';
const REPORT_SHA256 = 'a'.repeat(64);
const HOWTO_ADVICE =
  'The HOWTO: make sure the Helm release is not managed by another system before you uninstall it. ' +
  'Hand it over from that system first (or remove it there), then start the deployment again.';

const GATEWAY: FailingRelease = { kind: 'gateway', name: 'apheris-gateway', namespace: 'apheris', address: 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0]' };
const PROMETHEUS: FailingRelease = { kind: 'other', name: 'prometheus', namespace: 'monitoring', address: 'module.monitoring.helm_release.prometheus' };
const UNIDENTIFIED: FailingRelease = { kind: 'unidentified', address: 'helm_release.x', reason: 'the plan shows no release name for helm_release.x' };
const nameReuse = (...releases: FailingRelease[]) => ({ failure: 'helm-release-name-in-use', summary: 'a Helm release exists', releases });

describe('remediationFor', () => {
  test("the name reuse of the gateway's release, first time in this run: inspect the release", () => {
    expect(remediationFor(nameReuse(GATEWAY), false)).toEqual({ failure: 'helm-release-name-in-use', action: 'inspect-release' });
  });

  test('the name reuse again after the uninstall: no second remediation', () => {
    expect(remediationFor(nameReuse(GATEWAY), true)).toEqual({ failure: 'helm-release-name-in-use', action: 'none', because: 'the remediation already ran once in this run' });
  });

  test.each(['state-lock-held', 'stale-plan', 'credentials', 'unknown'])('any other failure (%s): none, naming it', (failure) => {
    expect(remediationFor({ failure }, false)).toEqual({ failure, action: 'none' });
  });

  test('no report, or a report without a failure class: unknown, none', () => {
    expect(remediationFor(null, false)).toEqual({ failure: 'unknown', action: 'none' });
    expect(remediationFor({ summary: 'something' }, false)).toEqual({ failure: 'unknown', action: 'none' });
  });

  test('another release (prometheus in monitoring): none, saying which release the error is about', () => {
    expect(remediationFor(nameReuse(PROMETHEUS), false)).toEqual({
      failure: 'helm-release-name-in-use',
      action: 'none',
      because: "the error is about prometheus in monitoring, not only the gateway's release apheris-gateway in apheris",
    });
  });

  test('an unidentified release: none, with the reason', () => {
    const result = remediationFor(nameReuse(UNIDENTIFIED), false);
    expect(result.action).toBe('none');
    expect(result.because).toContain('the plan shows no release name');
  });

  test("the gateway's release and another at once: none (the re-apply would fail on the other anyway)", () => {
    expect(remediationFor(nameReuse(GATEWAY, PROMETHEUS), false).action).toBe('none');
  });

  test('a report without releases (no identification at all): none, never the gateway assumed', () => {
    expect(remediationFor({ failure: 'helm-release-name-in-use' }, false)).toMatchObject({ action: 'none', because: expect.stringContaining('does not identify') });
    expect(remediationFor(nameReuse(), false).action).toBe('none');
    expect(remediationFor({ failure: 'helm-release-name-in-use', releases: 'apheris-gateway' as never }, false).action).toBe('none');
  });

  test('a report that labels another release "gateway" is not believed: the name and namespace are checked', () => {
    expect(remediationFor(nameReuse({ ...PROMETHEUS, kind: 'gateway' } as FailingRelease), false).action).toBe('none');
    expect(remediationFor(nameReuse({ ...GATEWAY, namespace: 'apheris-staging' }), false).action).toBe('none');
  });

  // The control, attacked end to end in the domain: Helm's error about prometheus in monitoring, as the helm provider
  // prints it after the Apply, diagnosed with the run's plan. Before the release was read from the error, every name
  // reuse led to inspect-release, i.e. to an offer to uninstall apheris-gateway.
  test('attack: an Apply error about prometheus in monitoring never leads to inspecting or uninstalling apheris-gateway', () => {
    const address = 'module.monitoring.helm_release.prometheus';
    const output = ['Error: installation failed', '', `  with ${address},`, '  on main.tf line 3, in resource "helm_release" "prometheus":', '', 'cannot re-use a name that is still in use', ''].join('\n');
    const plan: TerraformPlan = {
      resource_changes: [{ address, mode: 'managed', type: 'helm_release', name: 'prometheus', change: { actions: ['create'], after: { name: 'prometheus', namespace: 'monitoring' } } }],
    };
    const report = { step: 'apply', status: 'failed', ...diagnoseTerraformFailure(output, { plan }) };
    expect(report.failure).toBe('helm-release-name-in-use');
    const remediation = remediationFor(report, false);
    expect(remediation.action).not.toBe('inspect-release');
    expect(remediation.because).toContain('prometheus in monitoring');
    expect(report.advice).not.toContain('helm uninstall apheris-gateway');
  });
});

describe('isGatewayReleaseOnly', () => {
  test("only the gateway's release: true", () => expect(isGatewayReleaseOnly([GATEWAY])).toBe(true));
  test('none: false', () => {
    expect(isGatewayReleaseOnly([])).toBe(false);
    expect(isGatewayReleaseOnly(undefined)).toBe(false);
  });
  test('any other or unidentified release among them: false', () => {
    expect(isGatewayReleaseOnly([GATEWAY, PROMETHEUS])).toBe(false);
    expect(isGatewayReleaseOnly([GATEWAY, UNIDENTIFIED])).toBe(false);
  });
});

describe('decideUninstall', () => {
  const unmanaged: ReleaseInspection = {
    finding: 'unmanaged',
    detail: 'release secret sh.helm.release.v1.apheris-gateway.v1 in apheris, no Flux or Argo CD labels, not in the Terraform state',
  };

  test('unmanaged: ask, with an analysis that names the release and namespace, high risk, the evidence and the report', () => {
    const decision = decideUninstall(unmanaged, REPORT_KEY, REPORT_SHA256);
    expect(decision).toEqual({
      decision: 'ask',
      finding: 'unmanaged',
      analysis: {
        line: 'Uninstall the Helm release apheris-gateway (namespace apheris) that blocks the apply, then re-plan and apply once',
        changes: [{ address: 'helm release apheris-gateway (namespace apheris)', action: 'delete' }],
        changesNotListed: 0,
        risk: {
          level: 'high',
          reasons: [
            'the gateway agent of that release stops until the re-applied release runs; computations in flight may fail',
            `evidence: ${unmanaged.detail}`,
          ],
        },
        because: 'the apply failed with "cannot re-use a name that is still in use" and no other system manages the release',
        planTextKey: REPORT_KEY,
        planJsonKey: REPORT_KEY,
        planSha256: REPORT_SHA256,
      },
    });
    expect(RELEASE_NAME).toBe('apheris-gateway');
    expect(RELEASE_NAMESPACE).toBe('apheris');
  });

  test('absent: the release is gone already, re-plan at once without asking', () => {
    expect(decideUninstall({ finding: 'absent', detail: 'no release secret for apheris-gateway in apheris' }, REPORT_KEY, REPORT_SHA256)).toEqual({
      decision: 're-plan',
      finding: 'absent',
      because: 'the release apheris-gateway is no longer on the cluster (no release secret for apheris-gateway in apheris)',
    });
  });

  test.each([
    ['managed-by-flux', 'label helm.toolkit.fluxcd.io/name=gateway on the release secret'],
    ['managed-by-argocd', 'label argocd.argoproj.io/instance=gateway on the deployment'],
    ['managed-by-terraform', 'module.gateway.module.gateway_agent[0].helm_release.gateway_agent[0] is in the Terraform state'],
  ])('%s: ReleaseManagedElsewhere with the finding, its detail and the seed\'s advice', (finding, detail) => {
    const error = (() => {
      try {
        decideUninstall({ finding, detail }, REPORT_KEY, REPORT_SHA256);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected decideUninstall to throw');
    })();
    expect(error).toBeInstanceOf(ReleaseManagedElsewhere);
    expect(error).toBeInstanceOf(DeploymentError);
    expect(error.name).toBe('ReleaseManagedElsewhere');
    expect(error.message).toBe(`Helm release apheris-gateway in namespace apheris was not uninstalled: ${finding}: ${detail}. ${HOWTO_ADVICE}`);
    expect(error.message).toContain('not managed by another system');
  });

  test('no inspection report: refuse to uninstall (unknown), saying no report was written', () => {
    expect(() => decideUninstall(null, '', REPORT_SHA256)).toThrow(ReleaseManagedElsewhere);
    expect(() => decideUninstall(null, '', REPORT_SHA256)).toThrow(
      `Helm release apheris-gateway in namespace apheris was not uninstalled: unknown: no inspection report was written. ${HOWTO_ADVICE}`,
    );
  });

  test('an unmanaged finding without detail still asks; the evidence line falls back to "no inspection report was written"', () => {
    const decision = decideUninstall({ finding: 'unmanaged' }, REPORT_KEY, REPORT_SHA256);
    expect(decision.decision).toBe('ask');
    if (decision.decision !== 'ask') throw new Error('expected ask');
    expect(decision.analysis.risk.reasons[1]).toBe('evidence: no inspection report was written');
  });
});

describe('Remediate handler', () => {
  const BUCKET = 'gw-artifacts-123456789012';
  const s3 = mockClient(S3Client);
  let handler: (event: RemediateEvent) => Promise<unknown>;

  const body = (value: unknown) => ({ Body: { transformToString: async () => JSON.stringify(value) } }) as never;
  const noSuchKey = () => Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
  const requestedKeys = () => s3.commandCalls(GetObjectCommand).map((c) => `${c.args[0].input.Bucket}/${c.args[0].input.Key}`);
  const diagnose = (state: { remediation?: unknown } = {}): RemediateEvent => ({ kind: 'diagnose', gateway: 'gw-prod', executionName: 'run-42', state });
  const prepare = (exported: Array<{ Name?: string; Value?: string }>): RemediateEvent => ({ kind: 'prepare', inspection: { buildId: 'gw-verify:9', exported } });

  beforeAll(async () => {
    process.env.ARTIFACTS_BUCKET = BUCKET;
    process.env.POWERTOOLS_DEV = 'true';
    for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const) jest.spyOn(console, method).mockImplementation(() => undefined);
    ({ handler } = await import('../../lambdas/remediate/index'));
  });

  afterAll(() => {
    s3.restore();
    jest.restoreAllMocks();
    delete process.env.ARTIFACTS_BUCKET;
    delete process.env.POWERTOOLS_DEV;
  });

  beforeEach(() => s3.reset());

  describe('diagnose', () => {
    test("reads reports/<gw>/<exec>/apply-failure.json; the name reuse of the gateway's release: inspect-release", async () => {
      s3.on(GetObjectCommand).resolves(body({ step: 'apply', ...nameReuse(GATEWAY) }));
      await expect(handler(diagnose())).resolves.toEqual({ failure: 'helm-release-name-in-use', action: 'inspect-release' });
      expect(requestedKeys()).toEqual([`${BUCKET}/reports/gw-prod/run-42/apply-failure.json`]);
    });

    test('the name reuse of prometheus in monitoring: none, so the run goes to ApplyFailed and nothing is inspected or uninstalled', async () => {
      s3.on(GetObjectCommand).resolves(body({ step: 'apply', ...nameReuse(PROMETHEUS) }));
      await expect(handler(diagnose())).resolves.toMatchObject({ failure: 'helm-release-name-in-use', action: 'none' });
    });

    test('another failure: none', async () => {
      s3.on(GetObjectCommand).resolves(body({ failure: 'state-lock-held' }));
      await expect(handler(diagnose())).resolves.toEqual({ failure: 'state-lock-held', action: 'none' });
    });

    test('no report (the Apply failed before writing one): unknown, none', async () => {
      s3.on(GetObjectCommand).rejects(noSuchKey());
      await expect(handler(diagnose())).resolves.toEqual({ failure: 'unknown', action: 'none' });
      expect(requestedKeys()).toEqual([`${BUCKET}/reports/gw-prod/run-42/apply-failure.json`]);
    });

    test('already remediated in this run ($.remediation present): none, even for the name reuse', async () => {
      s3.on(GetObjectCommand).resolves(body(nameReuse(GATEWAY)));
      await expect(handler(diagnose({ remediation: { decision: 'ask', finding: 'unmanaged' } }))).resolves.toMatchObject({
        failure: 'helm-release-name-in-use',
        action: 'none',
      });
    });

    test('an S3 error other than not-found is not taken for "no report": it fails the step', async () => {
      s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
      await expect(handler(diagnose())).rejects.toMatchObject({ name: 'AccessDenied' });
    });
  });

  describe('prepare', () => {
    test('reads the report named by the build\'s RELEASE_REPORT_KEY; unmanaged: ask', async () => {
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: REPORT_KEY }).resolves(body({ finding: 'unmanaged', detail: 'no manager labels' }));
      const decision = (await handler(prepare([{ Name: 'STEP_STATUS', Value: 'succeeded' }, { Name: 'RELEASE_REPORT_KEY', Value: REPORT_KEY }]))) as {
        decision: string;
        analysis: { planTextKey: string; risk: { reasons: string[] } };
      };
      expect(requestedKeys()).toEqual([`${BUCKET}/${REPORT_KEY}`]);
      expect(decision).toMatchObject({ decision: 'ask', finding: 'unmanaged', analysis: { planTextKey: REPORT_KEY, planJsonKey: REPORT_KEY } });
      expect(decision.analysis.risk.reasons).toContain('evidence: no manager labels');
    });

    test('absent: re-plan', async () => {
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: REPORT_KEY }).resolves(body({ finding: 'absent', detail: 'gone' }));
      await expect(handler(prepare([{ Name: 'RELEASE_REPORT_KEY', Value: REPORT_KEY }]))).resolves.toEqual({
        decision: 're-plan',
        finding: 'absent',
        because: 'the release apheris-gateway is no longer on the cluster (gone)',
      });
    });

    test('managed by Flux: the step fails with ReleaseManagedElsewhere and the HOWTO\'s advice', async () => {
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: REPORT_KEY }).resolves(body({ finding: 'managed-by-flux', detail: 'flux labels' }));
      await expect(handler(prepare([{ Name: 'RELEASE_REPORT_KEY', Value: REPORT_KEY }]))).rejects.toMatchObject({
        name: 'ReleaseManagedElsewhere',
        message: `Helm release apheris-gateway in namespace apheris was not uninstalled: managed-by-flux: flux labels. ${HOWTO_ADVICE}`,
      });
    });

    test('the build exported no RELEASE_REPORT_KEY: nothing is read, and nothing is uninstalled', async () => {
      await expect(handler(prepare([{ Name: 'STEP_STATUS', Value: 'succeeded' }]))).rejects.toMatchObject({
        name: 'ReleaseManagedElsewhere',
        message: expect.stringContaining('was not uninstalled: unknown: no inspection report was written.'),
      });
      expect(requestedKeys()).toEqual([]);
    });

    test('the named report is missing: not uninstalled either', async () => {
      s3.on(GetObjectCommand).rejects(noSuchKey());
      await expect(handler(prepare([{ Name: 'RELEASE_REPORT_KEY', Value: REPORT_KEY }]))).rejects.toBeInstanceOf(ReleaseManagedElsewhere);
      expect(requestedKeys()).toEqual([`${BUCKET}/${REPORT_KEY}`]);
    });
  });
});
