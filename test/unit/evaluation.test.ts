/**
 * EvaluateVerification: the seed's "Please confirm that the returned version matches the version that Apheris
 * has communicated", as a gate over the Verify build's exported variables.
 */
import type { BuildResult } from '../../lambdas/shared/domain/build-result';
import { DeploymentError } from '../../lambdas/shared/domain/errors';
import { VerificationError, evaluateVerification } from '../../lambdas/shared/domain/evaluation';

const BUCKET = 'gw-artifacts-123456789012';
const REPORT_KEY = 'reports/gw-prod/run-42/verification.json';
const REPORT_URL = `s3://${BUCKET}/${REPORT_KEY}`;
const IMAGE = 'quay.io/apheris/gateway-agent:0.16.20';

/** What verify-step exports for a healthy agent, with overrides. */
function verifyResult(over: Record<string, string> = {}): BuildResult {
  const vars: Record<string, string> = {
    STEP_STATUS: 'succeeded',
    VERIFICATION_REPORT_KEY: REPORT_KEY,
    AGENT_FOUND: 'true',
    AGENT_DEPLOYMENT: 'apheris-gateway-agent',
    AGENT_IMAGE: IMAGE,
    AGENT_VERSION: '0.16.20',
    AGENT_DIGEST: '',
    ROLLOUT_READY: 'true',
    ROLLOUT_DETAIL: '2/2 replicas ready, 2/2 updated',
    CONNECTIVITY: 'passed',
    CONNECTIVITY_DETAIL: 'connectivity test pod Succeeded',
    ...over,
  };
  return { buildId: 'gw-verify:1234', exported: Object.entries(vars).map(([Name, Value]) => ({ Name, Value })) };
}

/** The thrown error, asserting it is a VerificationError. */
function failure(verify: BuildResult, expected: string | undefined): VerificationError {
  let caught: unknown;
  try {
    evaluateVerification(verify, expected, BUCKET);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(VerificationError);
  expect(caught).toBeInstanceOf(DeploymentError);
  expect((caught as Error).name).toBe('VerificationError');
  return caught as VerificationError;
}

describe('evaluateVerification', () => {
  test('pass: the running version is the expected one, rollout finished, connectivity passed', () => {
    expect(evaluateVerification(verifyResult({ AGENT_DIGEST: 'sha256:abc' }), '0.16.20', BUCKET)).toEqual({
      agentVersion: '0.16.20',
      agentImage: IMAGE,
      agentDigest: 'sha256:abc',
      expectedAgentVersion: '0.16.20',
      versionCompared: true,
      rollout: '2/2 replicas ready, 2/2 updated',
      connectivity: 'passed',
      connectivityDetail: 'connectivity test pod Succeeded',
      reportKey: REPORT_KEY,
    });
  });

  test('mismatch: the message names expected, running, image and the report', () => {
    const error = failure(verifyResult({ AGENT_VERSION: '0.16.19', AGENT_IMAGE: 'quay.io/apheris/gateway-agent:0.16.19' }), '0.16.20');
    expect(error.message).toBe(
      `agent version mismatch: expected 0.16.20, running 0.16.19 (quay.io/apheris/gateway-agent:0.16.19) (report: ${REPORT_URL})`,
    );
  });

  test('an image without a tag is a mismatch "(no tag)"', () => {
    const error = failure(verifyResult({ AGENT_VERSION: '', AGENT_IMAGE: 'quay.io/apheris/gateway-agent@sha256:abc' }), '0.16.20');
    expect(error.message).toContain('running (no tag) (quay.io/apheris/gateway-agent@sha256:abc)');
  });

  test.each([
    ['v0.16.20', '0.16.20'],
    ['0.16.20', 'v0.16.20'],
    [' 0.16.20 ', '0.16.20'],
  ])('running %j equals expected %j', (running, expected) => {
    const evaluation = evaluateVerification(verifyResult({ AGENT_VERSION: running }), expected, BUCKET);
    expect(evaluation.versionCompared).toBe(true);
    expect(evaluation.agentVersion).toBe(running);
    expect(evaluation.expectedAgentVersion).toBe(expected);
  });

  test('"version" is not stripped to "ersion": only a v before a digit is a prefix', () => {
    expect(failure(verifyResult({ AGENT_VERSION: 'version1' }), 'ersion1').message).toContain('agent version mismatch');
  });

  test('no expected version: any running version passes, versionCompared false', () => {
    const evaluation = evaluateVerification(verifyResult({ AGENT_VERSION: '9.9.9' }), undefined, BUCKET);
    expect(evaluation).toMatchObject({ agentVersion: '9.9.9', expectedAgentVersion: null, versionCompared: false });
  });

  test('agent not found: the detail says why; no version or rollout complaint on top', () => {
    const error = failure(
      verifyResult({
        AGENT_FOUND: 'false',
        AGENT_DEPLOYMENT: '',
        AGENT_IMAGE: '',
        AGENT_VERSION: '',
        ROLLOUT_READY: 'false',
        ROLLOUT_DETAIL: 'no Deployment has the label apheris-component=agent; no Deployment named apheris-gateway-agent either',
      }),
      '0.16.20',
    );
    expect(error.message).toBe(
      'the agent Deployment was not found: no Deployment has the label apheris-component=agent; no Deployment named apheris-gateway-agent either' +
        ` (report: ${REPORT_URL})`,
    );
  });

  test('rollout not ready', () => {
    const error = failure(verifyResult({ ROLLOUT_READY: 'false', ROLLOUT_DETAIL: '1/2 replicas ready, 1/2 updated' }), '0.16.20');
    expect(error.message).toBe(`the agent rollout did not finish: 1/2 replicas ready, 1/2 updated (report: ${REPORT_URL})`);
  });

  test('connectivity failed', () => {
    const error = failure(verifyResult({ CONNECTIVITY: 'failed', CONNECTIVITY_DETAIL: 'connectivity test pod Failed (helm exited 1)' }), undefined);
    expect(error.message).toBe(`the connectivity tests did not pass: connectivity test pod Failed (helm exited 1) (report: ${REPORT_URL})`);
  });

  test('several problems are joined with "; " and the report is named once, at the end', () => {
    const error = failure(
      verifyResult({
        AGENT_VERSION: '0.16.19',
        ROLLOUT_READY: 'false',
        ROLLOUT_DETAIL: 'the controller has not yet seen the latest Deployment spec',
        CONNECTIVITY: 'failed',
        CONNECTIVITY_DETAIL: 'no test phase found: helm exited 1 and the test pod is gone',
      }),
      '0.16.20',
    );
    expect(error.message).toBe(
      [
        `agent version mismatch: expected 0.16.20, running 0.16.19 (${IMAGE})`,
        'the agent rollout did not finish: the controller has not yet seen the latest Deployment spec',
        'the connectivity tests did not pass: no test phase found: helm exited 1 and the test pod is gone',
      ].join('; ') + ` (report: ${REPORT_URL})`,
    );
    expect(error.message.split(REPORT_URL)).toHaveLength(2);
  });

  test('nothing exported (a Verify build result without variables): not found and no connectivity result, no report', () => {
    const error = failure({ buildId: 'gw-verify:1' }, '0.16.20');
    expect(error.message).toBe('the agent Deployment was not found: no detail; the connectivity tests did not pass: no result');
  });
});
