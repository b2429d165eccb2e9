import { ConfigError } from '../../lambdas/shared/domain/errors';
import {
  DEFAULT_MIN_FREE_SUBNET_ADDRESSES,
  REFERENCE_ADDRESSES_PER_SUBNET,
  REFERENCE_SUBNET_COUNT,
  checkNodeSubnets,
  type SubnetFacts,
} from '../../lambdas/shared/domain/subnets';

const VPC = 'vpc-045da9dc92fb2a887';
const A = 'subnet-0640da74d7ffb177f';
const B = 'subnet-0d0e19e8e7ee019a0';
const C = 'subnet-02e5590fa6f9712c9';
const s = (subnetId: string, free: number, vpcId = VPC): SubnetFacts => ({ subnetId, vpcId, availableIpAddressCount: free });

describe('checkNodeSubnets', () => {
  test("the default threshold is one of the seed's reference subnets", () => {
    expect([REFERENCE_SUBNET_COUNT, REFERENCE_ADDRESSES_PER_SUBNET, DEFAULT_MIN_FREE_SUBNET_ADDRESSES]).toEqual([3, 254, 254]);
  });

  test('sums the free addresses of the configured subnets only', () => {
    const check = checkNodeSubnets({ vpcId: VPC, subnetIds: [A, B] }, [s(A, 200), s(B, 100), s(C, 5000)]);
    expect(check).toEqual({ freeAddresses: 300, warnings: [] });
  });

  test('exactly the threshold passes; one below warns', () => {
    expect(checkNodeSubnets({ vpcId: VPC, subnetIds: [A] }, [s(A, 254)]).warnings).toEqual([]);
    const below = checkNodeSubnets({ vpcId: VPC, subnetIds: [A] }, [s(A, 253)]);
    expect(below.warnings).toHaveLength(1);
    expect(below.warnings[0]).toContain(`module.node_subnet_ids have 253 free IP addresses together (${A}: 253), fewer than 254`);
  });

  test('a subnet listed twice counts once', () => {
    expect(checkNodeSubnets({ vpcId: VPC, subnetIds: [A, A] }, [s(A, 200)]).freeAddresses).toBe(200);
  });

  test('a full subnet gets its own warning', () => {
    const check = checkNodeSubnets({ vpcId: VPC, subnetIds: [A, B] }, [s(A, 0), s(B, 800)]);
    expect(check.warnings).toEqual([`subnet ${A} has no free IP address: nodes placed there cannot start`]);
  });

  test('threshold 0 never warns about the sum', () => {
    expect(checkNodeSubnets({ vpcId: VPC, subnetIds: [A] }, [s(A, 1)], 0).warnings).toEqual([]);
  });

  test('every missing subnet is named in one ConfigError', () => {
    const act = () => checkNodeSubnets({ vpcId: VPC, subnetIds: [A, B, C] }, [s(B, 251)]);
    expect(act).toThrow(ConfigError);
    expect(act).toThrow(`module.node_subnet_ids: 2 subnets not found in the target account and region: ${A}, ${C}`);
  });

  test('a subnet outside vpc_id is a ConfigError naming it and both VPCs', () => {
    const act = () => checkNodeSubnets({ vpcId: VPC, subnetIds: [A, B] }, [s(A, 251), s(B, 251, 'vpc-0bbbbbbbbbbbbbbbb')]);
    expect(act).toThrow(`module.node_subnet_ids: ${B} is in vpc-0bbbbbbbbbbbbbbbb, not in module.vpc_id ${VPC}`);
  });
});
