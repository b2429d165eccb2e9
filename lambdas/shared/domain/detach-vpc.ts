/**
 * The HOWTO's FAQ "Can I manage the AWS VPC setup?", as an operation: after the operator takes the VPC over,
 *
 *     terraform state list | grep 'module.vpc' | xargs -I {} terraform state rm '{}'
 *
 * so that Terraform neither changes nor destroys it in later upgrades. Done in two builds with an approval in
 * between: `list-vpc` (Plan project) writes the list of addresses, an operator approves exactly that list, and
 * `detach-vpc` (Apply project) removes exactly those addresses after a backup of the state, refusing if the list
 * no longer matches the state.
 */

/** The report `list-vpc` writes at `reports/<gateway>/<runId>/detach-vpc.json`; the list the operator approves. */
export interface DetachListReport {
  readonly operation: 'detach-vpc';
  readonly status: 'listed';
  readonly gateway: string;
  readonly runId: string;
  /** Where the state lives (the workspace's s3 backend). */
  readonly stateBucket: string;
  readonly stateKey: string;
  /** The module.vpc addresses in the state, in `terraform state list` order. */
  readonly addresses: readonly string[];
  readonly listedAt: string;
}

/** The report `detach-vpc` writes at `reports/<gateway>/<runId>/detach-vpc-result.json`. */
export interface DetachResultReport {
  readonly operation: 'detach-vpc';
  readonly status: 'detached' | 'nothing-to-detach';
  readonly gateway: string;
  readonly runId: string;
  readonly stateBucket: string;
  readonly stateKey: string;
  /** The approved list this run removed (all of it, or nothing). */
  readonly removed: readonly string[];
  /** The state as it was before `terraform state rm`, in the deployer's state bucket; absent when nothing was removed. */
  readonly backup?: { readonly bucket: string; readonly key: string; readonly versionId?: string };
  /** How many addresses the state still holds, none of them in module.vpc. */
  readonly remainingCount: number;
  readonly detachedAt: string;
}

export const DETACH_LIST_FILE = 'detach-vpc.json';
export const DETACH_RESULT_FILE = 'detach-vpc-result.json';

/**
 * The gateway module's VPC module is `module.vpc` inside the module the workspace calls (`module.gateway`, or
 * whatever name a customized gateway.tf gives it); the HOWTO's root-level layout (`module.vpc.` at the start) is
 * accepted too. Matches exactly the `module.vpc` segment, so `module.vpc_endpoints`, `module.vpcs` or a
 * `module.vpc` nested in another module (`module.gateway.module.eks.module.vpc`) stay.
 */
const IN_VPC_MODULE = /^(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]*\])?\.)?module\.vpc[.[]/;

/** The addresses of a `terraform state list` that belong to the VPC module, in order, each once. */
export function vpcAddresses(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of list) {
    const address = line.trim();
    if (IN_VPC_MODULE.test(address) && !out.includes(address)) out.push(address);
  }
  return out;
}

/** `terraform state list` output as addresses. */
export function stateListLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

export interface ListDifference {
  /** In the state now, not in the approved list. */
  readonly added: string[];
  /** In the approved list, no longer in the state. */
  readonly missing: string[];
}

/** What changed between the approved list and the state's module.vpc addresses now; null when nothing did. */
export function compareWithApproved(approved: readonly string[], current: readonly string[]): ListDifference | null {
  const added = current.filter((a) => !approved.includes(a));
  const missing = approved.filter((a) => !current.includes(a));
  return added.length === 0 && missing.length === 0 ? null : { added, missing };
}

/**
 * The approved list as read back from S3, checked again: only strings, each in the VPC module. A list that
 * was changed after the approval must not make `terraform state rm` forget anything else.
 */
export function parseApprovedList(report: unknown, expected: { readonly gateway: string; readonly stateKey: string }): string[] {
  const r = report as Partial<DetachListReport> | null;
  if (!r || typeof r !== 'object' || r.operation !== 'detach-vpc' || r.status !== 'listed' || !Array.isArray(r.addresses)) {
    throw new Error('the approved detach-vpc list is not a list-vpc report');
  }
  if (r.gateway !== expected.gateway) throw new Error(`the approved detach-vpc list is for gateway ${String(r.gateway)}, not ${expected.gateway}`);
  if (r.stateKey !== expected.stateKey) {
    throw new Error(`the approved detach-vpc list is for the state ${String(r.stateKey)}, but this workspace uses ${expected.stateKey}`);
  }
  const addresses = r.addresses as unknown[];
  const bad = addresses.filter((a) => typeof a !== 'string' || vpcAddresses([a]).length !== 1 || vpcAddresses([a])[0] !== a);
  if (bad.length > 0) throw new Error(`the approved detach-vpc list holds addresses outside module.vpc: ${bad.map((a) => JSON.stringify(a)).join(', ')}`);
  return addresses as string[];
}

/** The line the approval request and the history show for a detach-vpc run. */
export function detachLine(count: number): string {
  return `Detach from Terraform state: ${count} module.vpc resource${count === 1 ? '' : 's'} (nothing is destroyed in AWS)`;
}
