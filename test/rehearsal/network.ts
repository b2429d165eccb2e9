/**
 * The operator's own network in the emulator. A config with `module.create_vpc: false` names a VPC and subnets that
 * exist in the real account; the rehearsal makes a VPC and as many subnets in moto_server, sized so that together
 * they have at least `vpcReuse.minFreeSubnetAddresses` free addresses, and rehearses the config with their ids in
 * place of the configured ones (moto picks ids itself; it cannot make `vpc-045da9dc92fb2a887`). The substitution
 * is returned as lines for the output, so the operator sees what was stood in for.
 *
 * Not modelled: route tables, NAT, the subnets' tags and availability zones of the real account; only what
 * Preflight reads (the subnets exist, are in the VPC, and their free address count).
 */
import { CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { GatewayConfig } from '../../lambdas/shared/domain/gateway-config';

const made = new Map<string, { vpcId: string; subnetIds: string[] }>();

/** AWS keeps 5 addresses of every subnet. */
const RESERVED_PER_SUBNET = 5;

/** The smallest prefix length (/16 … /28) whose subnets hold `needed` free addresses each. */
export function subnetPrefixFor(needed: number): number {
  for (let prefix = 28; prefix >= 16; prefix--) {
    if (2 ** (32 - prefix) - RESERVED_PER_SUBNET >= needed) return prefix;
  }
  return 16;
}

export async function standInNetwork(config: GatewayConfig, endpoint: string): Promise<{ config: GatewayConfig; standIns: string[] }> {
  const { vpc_id: vpcId, node_subnet_ids: subnetIds } = config.module;
  if (config.module.create_vpc !== false || !vpcId || !subnetIds?.length) return { config, standIns: [] };
  const key = `${endpoint} ${config.target.account} ${config.target.region} ${vpcId} ${subnetIds.join(',')}`;
  let ids = made.get(key);
  if (!ids) {
    const ec2 = new EC2Client({});
    try {
      const prefix = subnetPrefixFor(Math.ceil(config.vpcReuse.minFreeSubnetAddresses / subnetIds.length));
      const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc!.VpcId!;
      const size = 2 ** (32 - prefix);
      const zones = ['a', 'b', 'c'];
      const subnets: string[] = [];
      for (const [i] of subnetIds.entries()) {
        const base = i * size;
        const cidr = `10.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/${prefix}`;
        const created = await ec2.send(
          new CreateSubnetCommand({ VpcId: vpc, CidrBlock: cidr, AvailabilityZone: `${config.target.region}${zones[i % zones.length]}` }),
        );
        subnets.push(created.Subnet!.SubnetId!);
      }
      ids = { vpcId: vpc, subnetIds: subnets };
      made.set(key, ids);
    } finally {
      ec2.destroy();
    }
  }
  const stood = ids;
  return {
    config: { ...config, module: { ...config.module, vpc_id: stood.vpcId, node_subnet_ids: stood.subnetIds } },
    standIns: [
      `module.vpc_id ${vpcId}: the emulator's ${stood.vpcId} (moto picks ids; the run uses this one)`,
      ...subnetIds.map((id, i) => `module.node_subnet_ids ${id}: the emulator's ${stood.subnetIds[i]}`),
    ],
  };
}
