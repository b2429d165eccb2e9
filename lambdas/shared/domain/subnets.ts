import { ConfigError } from './errors';

/**
 * The HOWTO's FAQ "Can I manage the AWS VPC setup?": with `create_vpc = false` the gateway runs in subnets the
 * operator manages, and "each Kubernetes pod will allocate an IP. The reference setup from our Terraform module
 * will create three subnets, each with 254 addresses." Preflight checks those subnets before any run.
 *
 * Missing subnets, or subnets outside `vpc_id`, are configuration errors: the module would fail half-way
 * through the apply (EKS and the node groups refuse them). Few free addresses is only a warning: the
 * deployment itself needs few, and the operator may know that the gateway stays small.
 */

/** The reference setup's subnets, as the HOWTO describes them. */
export const REFERENCE_SUBNET_COUNT = 3;
export const REFERENCE_ADDRESSES_PER_SUBNET = 254;

/**
 * The default warning threshold: free addresses in `node_subnet_ids` together, at least as many as ONE of the
 * reference setup's subnets offers (254).
 *
 * Why not the whole reference (3 × 254 = 762)? AvailableIpAddressCount counts what is still free: AWS reserves 5
 * addresses of every subnet (a fresh /24 shows 251), and a gateway that already runs in the subnets holds
 * addresses for its nodes and pods. Reusing exactly the reference subnets would then always warn. Why not the
 * pods the node pools can run? Karpenter pools have no size in the config, and with the VPC CNI a node holds
 * whole ENIs' worth of addresses (which depends on the instance type). One reference subnet of headroom is a
 * figure from the HOWTO, leaves room for a few GPU nodes with their pods, and `vpcReuse.minFreeSubnetAddresses`
 * changes it (0 turns the warning off).
 */
export const DEFAULT_MIN_FREE_SUBNET_ADDRESSES = REFERENCE_ADDRESSES_PER_SUBNET;

/** What DescribeSubnets says about one subnet. */
export interface SubnetFacts {
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availableIpAddressCount: number;
  readonly cidrBlock?: string;
  readonly availabilityZone?: string;
}

export interface SubnetCheck {
  /** Free addresses in the configured subnets together. */
  readonly freeAddresses: number;
  readonly warnings: string[];
}

/**
 * Checks the subnets DescribeSubnets found against the configuration. Throws a ConfigError naming every
 * missing subnet id, or every subnet outside the configured VPC; returns the warnings otherwise.
 */
export function checkNodeSubnets(
  configured: { readonly vpcId: string; readonly subnetIds: readonly string[] },
  found: readonly SubnetFacts[],
  minFreeAddresses: number = DEFAULT_MIN_FREE_SUBNET_ADDRESSES,
): SubnetCheck {
  const byId = new Map(found.map((s) => [s.subnetId, s]));
  const ids = [...new Set(configured.subnetIds)];
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length > 0) {
    throw new ConfigError(
      `module.node_subnet_ids: ${plural(missing.length, 'subnet')} not found in the target account and region: ${missing.join(', ')} ` +
        '(create_vpc = false needs existing subnets; the HOWTO FAQ "Can I manage the AWS VPC setup?")',
    );
  }
  const elsewhere = ids.map((id) => byId.get(id)!).filter((s) => s.vpcId !== configured.vpcId);
  if (elsewhere.length > 0) {
    throw new ConfigError(
      `module.node_subnet_ids: ${elsewhere.map((s) => `${s.subnetId} is in ${s.vpcId}`).join(', ')}, not in module.vpc_id ${configured.vpcId}`,
    );
  }

  const subnets = ids.map((id) => byId.get(id)!);
  const freeAddresses = subnets.reduce((sum, s) => sum + Math.max(0, s.availableIpAddressCount), 0);
  const warnings: string[] = [];
  if (freeAddresses < minFreeAddresses) {
    const each = subnets.map((s) => `${s.subnetId}: ${s.availableIpAddressCount}`).join(', ');
    warnings.push(
      `module.node_subnet_ids have ${freeAddresses} free IP addresses together (${each}), fewer than ${minFreeAddresses} ` +
        `(vpcReuse.minFreeSubnetAddresses): each pod takes an address, and the HOWTO's reference setup has ` +
        `${REFERENCE_SUBNET_COUNT} subnets of ${REFERENCE_ADDRESSES_PER_SUBNET}; add or enlarge subnets before the gateway grows`,
    );
  }
  for (const s of subnets) {
    if (s.availableIpAddressCount <= 0) warnings.push(`subnet ${s.subnetId} has no free IP address: nodes placed there cannot start`);
  }
  return { freeAddresses, warnings };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
