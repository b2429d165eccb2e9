/**
 * Issue #17: an operator rehearses the config they will deploy, as written: another account (with a leading zero),
 * another region, their own VPC and subnets (create_vpc = false), their own values secret name. `npm run rehearse`
 * runs in a subprocess, as an operator types it; the emulator answers as the config's account and the output says
 * what stood in for what. A rehearsal against an emulator of another account is refused before anything runs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { motoEndpoint } from './support/aws-clients';
import { rehearse } from '../rehearsal/harness';
import { subnetPrefixFor } from '../rehearsal/network';

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, '..', '..');
const ACCOUNT = '011122223333';
const OWN_CONFIG = {
  gatewayName: 'own-config',
  target: { account: ACCOUNT, region: 'eu-west-1' },
  valuesSecretName: 'prod/gateway-values',
  module: {
    aws_auth_roles: [{ rolearn: `arn:aws:iam::${ACCOUNT}:role/Admin`, username: 'cluster-admin', groups: ['system:masters'] }],
    aws_auth_users: [],
    create_vpc: false,
    vpc_id: 'vpc-045da9dc92fb2a887',
    node_subnet_ids: ['subnet-0640da74d7ffb177f', 'subnet-0d0e19e8e7ee019a0'],
    // A GPU pool, but GPU workloads not enabled (enable_nvidia_gpu left out): a warning operators must read.
    karpenter_node_pools: { gpu: { instance_families: ['g5'], taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' as const }] } },
  },
  vpcReuse: { minFreeSubnetAddresses: 762 },
  notifications: { supportEmails: ['support@apheris.com'], operatorEmails: [] },
  approval: { approvers: [`arn:aws:iam::${ACCOUNT}:role/GatewayOperator`] },
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-own-config-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function rehearseCommand(args: string[]): Promise<{ status: number | null; output: string }> {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'ts-node'), ['--transpile-only', path.join(ROOT, 'test', 'rehearsal', 'cli.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 100_000,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (status) => resolve({ status, output })));
}

test('npm run rehearse --config: the config as written, in its own account, region, VPC and secret; the temporary folder removed', async () => {
  const configFile = path.join(dir, 'prod.yaml');
  fs.writeFileSync(configFile, stringify(OWN_CONFIG));
  const reportFile = path.join(dir, 'report.json');

  const { status, output } = await rehearseCommand(['--config', configFile, '--report', reportFile]);

  expect({ status, output }).toMatchObject({ status: 0 });
  expect(output).toContain(`stand-in: account ${ACCOUNT} in eu-west-1`);
  expect(output).toContain('stand-in: values secret prod/gateway-values');
  expect(output).toMatch(/stand-in: module\.vpc_id vpc-045da9dc92fb2a887: the emulator's vpc-[0-9a-f]+/);
  expect(output).toMatch(/stand-in: module\.node_subnet_ids subnet-0d0e19e8e7ee019a0: the emulator's subnet-[0-9a-f]+/);
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  expect(report.status).toBe('SUCCEEDED');
  const done = report.notifications.find((n: { subject: string }) => /installed/.test(n.subject));
  expect(done.message).toContain(`AWS account ${ACCOUNT}, eu-west-1`);
  expect(done.message).toContain('  ! node pool "gpu" has GPU instance families (g5) but module.enable_nvidia_gpu is not true');
  expect(done.message).toContain(`arn:aws:states:eu-west-1:${ACCOUNT}:execution:GatewayDeployment-own-config:`);
  // 762 free addresses asked over two subnets: each stand-in subnet is a /23 (507 free), not a /24 (251).
  expect(subnetPrefixFor(381)).toBe(23);
  const workDir = /^Rehearsal in (\S+)/m.exec(output)![1];
  expect(fs.existsSync(workDir)).toBe(false);
});

test('an emulator that answers as another account is refused before the run, with the fix', async () => {
  const report = rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(dir, 'mismatch'), config: OWN_CONFIG, prefix: 'own-config' });
  await expect(report).rejects.toThrow(`the config targets account ${ACCOUNT}, but the emulator at ${motoEndpoint()} answers as 123456789012: start moto_server with MOTO_ACCOUNT_ID=${ACCOUNT}`);
});
