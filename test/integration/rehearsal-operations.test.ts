/**
 * The seed's FAQ and drift detection as operations, rehearsed end to end on one installed gateway: a drift check
 * plans and tells, never applies; detach-vpc forgets exactly the module.vpc addresses, after a state backup.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { rehearse, type RehearsalOptions, type RehearsalReport } from '../rehearsal/harness';
import { getObjectText, listKeys, motoEndpoint } from './support/aws-clients';

jest.setTimeout(240_000);

const prefix = `ops-${process.pid}-${Date.now().toString(36)}`;
let workDir: string;
let installed: RehearsalReport;

const run = (options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, `run-${Date.now()}`), prefix, ...options });
const visited = (report: RehearsalReport) => [...new Set(report.states.map((s) => s.name))];

interface StateFile {
  serial: number;
  resources: Array<{ module?: string; mode: string; type: string; name: string }>;
}

async function stateObjects(bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await listKeys(bucket)) out.set(key, await getObjectText(bucket, key));
  return out;
}

const addresses = (state: StateFile) => state.resources.filter((r) => r.mode === 'managed').map((r) => `${r.module ? `${r.module}.` : ''}${r.type}.${r.name}`);

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-ops-'));
  installed = await run({});
  if (installed.status !== 'SUCCEEDED') throw new Error(`the install these operations need failed: ${installed.error}: ${installed.cause}`);
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

test('a drift check on a changed configuration tells operators what differs and applies nothing', async () => {
  const before = await stateObjects(installed.resources.stateBucket);
  const drifted = { ...EXAMPLE_CONFIG, module: { ...EXAMPLE_CONFIG.module, additional_data_buckets: ['drift-bucket'] } };
  const report = await run({ config: drifted, input: { operation: 'drift-check' } });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).toEqual(['ReceiveRequest', 'AcquireLock', 'Preflight', 'RenderWorkspace', 'Operation', 'Plan', 'AnalyzePlan', 'ApprovalGate', 'NotifyDrift', 'ReleaseLock', 'RunOutcome', 'DriftChecked']);
  expect(report.notifications.map((n) => [n.topic, n.subject])).toEqual([
    ['operators', expect.stringMatching(/^Compute Gateway gateway: drift detected\. Plan: 0 to add, [1-9]\d* to change, 0 to destroy\.$/)],
  ]);
  expect(report.notifications[0].message).toContain('terraform_data.dal_role');
  expect(report.notifications[0].message).toContain('Nothing was applied.');
  // The Terraform state is exactly as the install left it.
  expect(await stateObjects(installed.resources.stateBucket)).toEqual(before);
});

test('a drift check without drift is quiet', async () => {
  const report = await run({ input: { operation: 'drift-check' } });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).toContain('DriftChecked');
  expect(report.notifications).toEqual([]);
});

test('detach-vpc lists the module.vpc addresses for approval, backs the state up, and removes only those', async () => {
  const before = await stateObjects(installed.resources.stateBucket);
  const [stateKey, stateText] = [...before].find(([k]) => k.endsWith('.tfstate'))!;
  const all = addresses(JSON.parse(stateText));
  const isVpc = (a: string) => /(^|\.)module\.vpc\./.test(a);
  const vpc = all.filter(isVpc);
  expect(vpc.length).toBeGreaterThan(0);

  const report = await run({ input: { operation: 'detach-vpc', reason: 'the network team takes the VPC over' } });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).toEqual([
    'ReceiveRequest', 'AcquireLock', 'Preflight', 'RenderWorkspace', 'Operation', 'ListVpcState', 'AnalyzePlan', 'ApprovalGate',
    'RequestApproval', 'CheckApproval', 'AfterApproval', 'DetachVpc', 'NotifyDetached', 'ReleaseLock', 'RunOutcome', 'VpcDetached',
  ]);
  const approval = report.notifications.find((n) => n.subject.includes('approve'))!;
  for (const address of vpc) expect(approval.message).toContain(address);
  // Preflight's warning reaches the approver, not only a log line: the config still says create_vpc = true.
  expect(approval.message).toContain('Warnings (the run went on; check them):\n  ! module.create_vpc is still true: after detach-vpc, set create_vpc = false');

  const after = await stateObjects(installed.resources.stateBucket);
  const remaining = addresses(JSON.parse(after.get(stateKey)!));
  expect(remaining.sort()).toEqual(all.filter((a) => !isVpc(a)).sort());
  // The backup is the state as it was before the removal.
  const backups = [...after.keys()].filter((k) => k !== stateKey && k.includes(report.executionName));
  expect(backups).toHaveLength(1);
  expect(addresses(JSON.parse(after.get(backups[0])!)).sort()).toEqual([...all].sort());

  const done = report.notifications.find((n) => n.subject.includes('VPC detached'))!;
  expect(done.message).toContain(`s3://${installed.resources.stateBucket}/${backups[0]}`);
  expect(done.message).toContain('create_vpc = false');
});

test('detach-vpc again finds nothing to detach and changes nothing', async () => {
  const before = await stateObjects(installed.resources.stateBucket);
  const report = await run({ input: { operation: 'detach-vpc' } });
  expect(report.status).toBe('SUCCEEDED');
  expect(visited(report)).not.toContain('RequestApproval');
  expect(visited(report)).not.toContain('DetachVpc');
  expect(report.notifications.map((n) => n.subject)).toEqual(['Compute Gateway gateway: nothing to detach from the VPC module']);
  expect(await stateObjects(installed.resources.stateBucket)).toEqual(before);
});
