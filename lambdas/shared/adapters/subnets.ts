import type { SubnetFacts } from '../domain/subnets';

/**
 * DescribeSubnets for Preflight: the subnets among `ids` that exist. A `subnet-id` filter rather than SubnetIds:
 * with SubnetIds one unknown id fails the whole call and names only that one, while the filter returns the ones
 * that exist, so the caller can name every missing id.
 */
export async function describeSubnets(ids: readonly string[]): Promise<SubnetFacts[]> {
  // The (large) EC2 package and its client are loaded here, on the first call, not at import: only the
  // create_vpc = false check needs them (esbuild turns this into a lazy require; see ./clients/ec2).
  const { DescribeSubnetsCommand, ec2 } = await import('./clients/ec2');
  const found: SubnetFacts[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: [...ids] }], NextToken: token }));
    for (const s of out.Subnets ?? []) {
      if (!s.SubnetId) continue;
      found.push({
        subnetId: s.SubnetId,
        vpcId: s.VpcId ?? '',
        availableIpAddressCount: s.AvailableIpAddressCount ?? 0,
        ...(s.CidrBlock ? { cidrBlock: s.CidrBlock } : {}),
        ...(s.AvailabilityZone ? { availabilityZone: s.AvailabilityZone } : {}),
      });
    }
    token = out.NextToken;
  } while (token);
  return found;
}
