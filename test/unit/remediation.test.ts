/**
 * The seed's FAQ "cannot re-use a name that is still in use" as an operation: which Apply failure has a
 * remediation, what the release inspection's finding means, and the Remediate function reading its reports
 * from S3 (mocked with aws-sdk-client-mock).
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import type { RemediateEvent } from '../../lambdas/remediate/index';
import { DeploymentError } from '../../lambdas/shared/domain/errors';
import {
  RELEASE_NAME,
  RELEASE_NAMESPACE,
  ReleaseManagedElsewhere,
  decideUninstall,
  remediationFor,
  type ReleaseInspection,
} from '../../lambdas/shared/domain/remediation';

const REPORT_KEY = 'reports/gw-prod/run-42/release-inspection.json';
const REPORT_SHA256 = 'a'.repeat(64);
const SEED_ADVICE =
  'The HOWTO: make sure the Helm release is not managed by another system before you uninstall it. ' +
  'Hand it over from that system first (or remove it there), then start the deployment again.';

describe('remediationFor', () => {
  test('the name reuse, first time in this run: inspect the release', () => {
    expect(remediationFor({ failure: 'helm-release-name-in-use', summary: 'a Helm release of that name exists' }, false)).toEqual({
      failure: 'helm-release-name-in-use',
      action: 'inspect-release',
    });
  });

  test('the name reuse again after the uninstall: no second remediation', () => {
    expect(remediationFor({ failure: 'helm-release-name-in-use' }, true)).toEqual({ failure: 'helm-release-name-in-use', action: 'none' });
  });

  test.each(['state-lock-held', 'stale-plan', 'credentials', 'unknown'])('any other failure (%s): none, naming it', (failure) => {
    expect(remediationFor({ failure }, false)).toEqual({ failure, action: 'none' });
  });

  test('no report, or a report without a failure class: unknown, none', () => {
    expect(remediationFor(null, false)).toEqual({ failure: 'unknown', action: 'none' });
    expect(remediationFor({ summary: 'something' }, false)).toEqual({ failure: 'unknown', action: 'none' });
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
    expect(error.message).toBe(`Helm release apheris-gateway in namespace apheris was not uninstalled: ${finding}: ${detail}. ${SEED_ADVICE}`);
    expect(error.message).toContain('not managed by another system');
  });

  test('no inspection report: refuse to uninstall (unknown), saying no report was written', () => {
    expect(() => decideUninstall(null, '', REPORT_SHA256)).toThrow(ReleaseManagedElsewhere);
    expect(() => decideUninstall(null, '', REPORT_SHA256)).toThrow(
      `Helm release apheris-gateway in namespace apheris was not uninstalled: unknown: no inspection report was written. ${SEED_ADVICE}`,
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
    test('reads reports/<gw>/<exec>/apply-failure.json; the name reuse: inspect-release', async () => {
      s3.on(GetObjectCommand).resolves(body({ step: 'apply', failure: 'helm-release-name-in-use', summary: 'a Helm release of that name exists' }));
      await expect(handler(diagnose())).resolves.toEqual({ failure: 'helm-release-name-in-use', action: 'inspect-release' });
      expect(requestedKeys()).toEqual([`${BUCKET}/reports/gw-prod/run-42/apply-failure.json`]);
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
      s3.on(GetObjectCommand).resolves(body({ failure: 'helm-release-name-in-use' }));
      await expect(handler(diagnose({ remediation: { decision: 'ask', finding: 'unmanaged' } }))).resolves.toEqual({
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

    test('managed by Flux: the step fails with ReleaseManagedElsewhere and the seed\'s advice', async () => {
      s3.on(GetObjectCommand, { Bucket: BUCKET, Key: REPORT_KEY }).resolves(body({ finding: 'managed-by-flux', detail: 'flux labels' }));
      await expect(handler(prepare([{ Name: 'RELEASE_REPORT_KEY', Value: REPORT_KEY }]))).rejects.toMatchObject({
        name: 'ReleaseManagedElsewhere',
        message: `Helm release apheris-gateway in namespace apheris was not uninstalled: managed-by-flux: flux labels. ${SEED_ADVICE}`,
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
