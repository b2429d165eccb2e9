import { exportedVariables, type BuildResult } from './build-result';
import { DeploymentError } from './errors';

/**
 * The HOWTO's "Please confirm that the returned version matches the version that Apheris has communicated",
 * made a gate: the run fails when the agent runs another version, its rollout did not finish, or the
 * connectivity tests did not pass, with a cause that says what was expected and what was found.
 */

export class VerificationError extends DeploymentError {}

export interface Evaluation {
  readonly agentVersion: string;
  readonly agentImage: string;
  readonly agentDigest: string;
  readonly expectedAgentVersion: string | null;
  /** False when the input gave no expected version: the report and notifications say so. */
  readonly versionCompared: boolean;
  readonly rollout: string;
  readonly connectivity: 'passed';
  readonly connectivityDetail: string;
  readonly reportKey: string;
}

/** "v0.16.20" and "0.16.20" are the same version; vendors write both. */
const normalize = (version: string) => version.trim().replace(/^v(?=\d)/, '');

export function evaluateVerification(verify: BuildResult, expectedAgentVersion: string | undefined, artifactsBucket: string): Evaluation {
  const v = exportedVariables(verify);
  const reportKey = v.VERIFICATION_REPORT_KEY ?? '';
  const where = reportKey ? ` (report: s3://${artifactsBucket}/${reportKey})` : '';
  const problems: string[] = [];
  if (v.AGENT_FOUND !== 'true') {
    problems.push(`the agent Deployment was not found: ${v.ROLLOUT_DETAIL || 'no detail'}`);
  } else {
    if (expectedAgentVersion !== undefined && normalize(v.AGENT_VERSION ?? '') !== normalize(expectedAgentVersion)) {
      problems.push(`agent version mismatch: expected ${expectedAgentVersion}, running ${v.AGENT_VERSION || '(no tag)'} (${v.AGENT_IMAGE})`);
    }
    if (v.ROLLOUT_READY !== 'true') problems.push(`the agent rollout did not finish: ${v.ROLLOUT_DETAIL}`);
  }
  if (v.CONNECTIVITY !== 'passed') problems.push(`the connectivity tests did not pass: ${v.CONNECTIVITY_DETAIL || 'no result'}`);
  if (problems.length > 0) throw new VerificationError(`${problems.join('; ')}${where}`);
  return {
    agentVersion: v.AGENT_VERSION ?? '',
    agentImage: v.AGENT_IMAGE ?? '',
    agentDigest: v.AGENT_DIGEST ?? '',
    expectedAgentVersion: expectedAgentVersion ?? null,
    versionCompared: expectedAgentVersion !== undefined,
    rollout: v.ROLLOUT_DETAIL ?? '',
    connectivity: 'passed',
    connectivityDetail: v.CONNECTIVITY_DETAIL ?? '',
    reportKey,
  };
}
