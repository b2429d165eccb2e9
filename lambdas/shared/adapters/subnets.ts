import { DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { SubnetFacts } from '../domain/subnets';
import { namingNetworkErrors } from './aws';

/**
 * DescribeSubnets for Preflight. Its own client, created here rather than in ./aws, so that only the Lambda
 * that reads subnets loads the (large) EC2 client at cold start.
 */
export const ec2 = namingNetworkErrors(new EC2Client({}));

/**
 * The subnets among `ids` that exist. A `subnet-id` filter rather than SubnetIds: with SubnetIds one unknown id
 * fails the whole call and names only that one, while the filter returns the ones that exist, so the caller
 * can name every missing id.
 */
export async function describeSubnets(ids: readonly string[]): Promise<SubnetFacts[]> {
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
