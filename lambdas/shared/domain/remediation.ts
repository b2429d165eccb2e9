import { DeploymentError } from './errors';

/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use" as an operation: after the Apply failed with it,
 * inspect who owns the apheris-gateway release, ask before uninstalling it, uninstall, re-plan and apply once.
 */

export const RELEASE_NAME = 'apheris-gateway';
export const RELEASE_NAMESPACE = 'apheris';

/** The release belongs to another system (or the Terraform state): uninstalling it would fight that system. */
export class ReleaseManagedElsewhere extends DeploymentError {}

export type RemediationAction = 'inspect-release' | 'none';

export interface FailureReport {
  readonly failure?: string;
  readonly summary?: string;
}

/**
 * Whether a failed Apply has a remediation. Only the name reuse does, and only once a run: a second failure
 * after the uninstall ends the run (`alreadyRemediated`).
 */
export function remediationFor(report: FailureReport | null, alreadyRemediated: boolean): { readonly failure: string; readonly action: RemediationAction } {
  const failure = report?.failure ?? 'unknown';
  if (failure !== 'helm-release-name-in-use' || alreadyRemediated) return { failure, action: 'none' };
  return { failure, action: 'inspect-release' };
}

export interface ReleaseInspection {
  readonly finding: string;
  readonly detail?: string;
}

/** The analysis shape RequestApproval shows, here describing the uninstall instead of a plan. */
export interface UninstallAnalysis {
  readonly line: string;
  readonly changes: ReadonlyArray<{ readonly address: string; readonly action: string }>;
  readonly changesNotListed: number;
  readonly risk: { readonly level: 'high'; readonly reasons: readonly string[] };
  readonly because: string;
  readonly planTextKey: string;
  readonly planJsonKey: string;
  /** The sha256 of the inspection report: what an approval of the uninstall approves. */
  readonly planSha256: string;
}

export type UninstallDecision =
  | { readonly decision: 'ask'; readonly finding: string; readonly analysis: UninstallAnalysis }
  | { readonly decision: 're-plan'; readonly finding: string; readonly because: string };

const SEED_ADVICE =
  'The HOWTO: make sure the Helm release is not managed by another system before you uninstall it. ' +
  'Hand it over from that system first (or remove it there), then start the deployment again.';

/**
 * What to do with the inspection's finding: ask to uninstall an unmanaged release; re-plan at once when it is
 * gone already; stop with the finding and the HOWTO's advice when another system (or the state) manages it.
 */
export function decideUninstall(inspection: ReleaseInspection | null, reportKey: string, reportSha256: string): UninstallDecision {
  const finding = inspection?.finding ?? 'unknown';
  const detail = inspection?.detail ?? 'no inspection report was written';
  if (finding === 'absent') {
    return { decision: 're-plan', finding, because: `the release ${RELEASE_NAME} is no longer on the cluster (${detail})` };
  }
  if (finding !== 'unmanaged') {
    throw new ReleaseManagedElsewhere(`Helm release ${RELEASE_NAME} in namespace ${RELEASE_NAMESPACE} was not uninstalled: ${finding}: ${detail.replace(/[.\s]+$/, '')}. ${SEED_ADVICE}`);
  }
  return {
    decision: 'ask',
    finding,
    analysis: {
      line: `Uninstall the Helm release ${RELEASE_NAME} (namespace ${RELEASE_NAMESPACE}) that blocks the apply, then re-plan and apply once`,
      changes: [{ address: `helm release ${RELEASE_NAME} (namespace ${RELEASE_NAMESPACE})`, action: 'delete' }],
      changesNotListed: 0,
      risk: {
        level: 'high',
        reasons: [
          'the gateway agent of that release stops until the re-applied release runs; computations in flight may fail',
          `evidence: ${detail}`,
        ],
      },
      because: 'the apply failed with "cannot re-use a name that is still in use" and no other system manages the release',
      planTextKey: reportKey,
      planJsonKey: reportKey,
      planSha256: reportSha256,
    },
  };
}
