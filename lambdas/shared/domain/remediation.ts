import { DeploymentError } from './errors';
import { isGatewayRelease, type FailingRelease } from './helm-name-reuse';
import { RELEASE_NAME, RELEASE_NAMESPACE } from './release-ownership';

/**
 * The HOWTO's FAQ "cannot re-use a name that is still in use" as an operation: after the Apply failed with it for the
 * gateway's own release, inspect who owns the apheris-gateway release, ask before uninstalling it, uninstall, re-plan
 * and apply once.
 *
 * Only the gateway's release (apheris-gateway in apheris, as the vendor's module and the HOWTO create it). An error
 * about any other release, one the module also installs included, gets its own finding and advice and no offer: the
 * ownership inspection sees Flux, Argo CD and this run's Terraform state, but not a release a person or another
 * Terraform state installed, which is how a shared add-on (a device plugin, a controller, monitoring) usually got
 * onto the cluster, and other workloads may depend on it. The HOWTO's FAQ covers the gateway's release only.
 */

export { RELEASE_NAME, RELEASE_NAMESPACE };

/** The release belongs to another system (or the Terraform state): uninstalling it would fight that system. */
export class ReleaseManagedElsewhere extends DeploymentError {}

export type RemediationAction = 'inspect-release' | 'none';

export interface FailureReport {
  readonly failure?: string;
  readonly summary?: string;
  /** The release(s) the name-reuse error is about, as the Apply build read them from the error and the plan. */
  readonly releases?: readonly FailingRelease[];
}

export interface Remediation {
  readonly failure: string;
  readonly action: RemediationAction;
  /** Why there is no remediation, when the failure is the name reuse. */
  readonly because?: string;
}

/**
 * Whether every release the error is about is the gateway's own: only then may the run offer the uninstall. The
 * name and namespace are checked again here, not only the build's `kind`.
 */
export function isGatewayReleaseOnly(releases: readonly FailingRelease[] | undefined): boolean {
  return Array.isArray(releases) && releases.length > 0 && releases.every((r) => r.kind === 'gateway' && isGatewayRelease(r.name, r.namespace));
}

const named = (r: FailingRelease) => (r.kind === 'unidentified' ? `an unidentified release (${r.reason})` : `${r.name} in ${r.namespace}`);

/**
 * Whether a failed Apply has a remediation. Only the name reuse of the gateway's own release does, and only once a
 * run: a second failure after the uninstall ends the run (`alreadyRemediated`).
 */
export function remediationFor(report: FailureReport | null, alreadyRemediated: boolean): Remediation {
  const failure = report?.failure ?? 'unknown';
  if (failure !== 'helm-release-name-in-use') return { failure, action: 'none' };
  if (alreadyRemediated) return { failure, action: 'none', because: 'the remediation already ran once in this run' };
  const releases = Array.isArray(report?.releases) ? report.releases : [];
  if (!isGatewayReleaseOnly(releases)) {
    const about = releases.length ? releases.map(named).join(', ') : 'a release the report does not identify';
    return { failure, action: 'none', because: `the error is about ${about}, not only the gateway's release ${RELEASE_NAME} in ${RELEASE_NAMESPACE}` };
  }
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

const HOWTO_ADVICE =
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
    throw new ReleaseManagedElsewhere(`Helm release ${RELEASE_NAME} in namespace ${RELEASE_NAMESPACE} was not uninstalled: ${finding}: ${detail.replace(/[.\s]+$/, '')}. ${HOWTO_ADVICE}`);
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
