/**
 * A build stopped mid-apply leaves Terraform's state lock behind. Real Terraform against an S3 backend on moto is
 * killed (SIGKILL, as a stopped CodeBuild build ends) while it applies; RunEnded's adapter reads the lock it left,
 * and the command the notice gives (terraform force-unlock -force <ID>) really frees the state.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTerraformLock } from '../../lambdas/shared/adapters/run-end';
import { terraformLockNotes } from '../../lambdas/shared/domain/run-end';
import { createBucket, listKeys, motoEndpoint } from './support/aws-clients';
import { destroyAdapterClients } from './support/handlers';
import { runTerraform, writeMotoBackendOverride } from './support/terraform';

const BUCKET = `run-ended-${randomUUID()}`;
const STATE_KEY = 'gateways/gw/terraform.tfstate';
let dir: string;

beforeAll(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-run-ended-'));
  await createBucket(BUCKET);
  // terraform_data is built into Terraform: no provider to install. Its provisioner keeps the apply (and the lock) going.
  await fs.promises.writeFile(
    path.join(dir, 'main.tf.json'),
    JSON.stringify({ resource: { terraform_data: { slow: { provisioner: [{ 'local-exec': { command: 'sleep 300' } }] } } } }),
  );
  await fs.promises.writeFile(
    path.join(dir, 'backend.tf.json'),
    JSON.stringify({ terraform: { backend: { s3: { bucket: BUCKET, key: STATE_KEY, region: 'eu-central-1', use_lockfile: true } } } }),
  );
  await writeMotoBackendOverride(dir, motoEndpoint());
  const init = await runTerraform(dir, ['init', '-input=false', '-no-color']);
  expect(init.code).toBe(0);
});

afterAll(async () => {
  await destroyAdapterClients();
  if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
});

/** Starts `terraform apply` and kills its whole process group once Terraform has written its lock file. */
async function killedApply(): Promise<void> {
  const child = spawn('terraform', ['apply', '-auto-approve', '-input=false', '-no-color'], {
    cwd: dir,
    env: { ...process.env, TF_IN_AUTOMATION: '1' },
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!(await listKeys(BUCKET)).includes(`${STATE_KEY}.tflock`)) {
    if (Date.now() > deadline) throw new Error('terraform apply wrote no lock file within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
}

test('the lock a killed apply leaves is read, reported with its command, and that command frees the state', async () => {
  await killedApply();

  const lock = await readTerraformLock({ bucket: BUCKET, key: STATE_KEY, useLockfile: true });
  expect(lock).toMatchObject({ ID: expect.stringMatching(/^[0-9a-f-]{36}$/), Operation: 'OperationTypeApply', Path: `${BUCKET}/${STATE_KEY}` });

  // The lock really blocks: a new plan fails on it, as every later Plan of the gateway would.
  const blocked = await runTerraform(dir, ['plan', '-input=false', '-no-color', '-lock-timeout=0s']);
  expect(blocked.code).not.toBe(0);
  expect(blocked.stderr).toContain('Error acquiring the state lock');

  // The notice's command, run as an operator would (in a workspace with the same backend).
  const notes = terraformLockNotes(lock!, { stateUrl: `s3://${BUCKET}/${STATE_KEY}`, workspaceUrl: null, projects: ['gw-apply'] }).join('\n');
  const command = /terraform (force-unlock -force \S+)/.exec(notes)![1].split(' ');
  const unlocked = await runTerraform(dir, command.concat('-no-color'));
  expect(unlocked.stderr).toBe('');
  expect(unlocked.code).toBe(0);

  expect(await readTerraformLock({ bucket: BUCKET, key: STATE_KEY, useLockfile: true })).toBeNull();
  const planned = await runTerraform(dir, ['plan', '-input=false', '-no-color', '-lock-timeout=0s']);
  expect(planned.code).toBe(0);
}, 120_000);

test('no lock file: nothing reported', async () => {
  expect(await readTerraformLock({ bucket: BUCKET, key: 'gateways/other/terraform.tfstate', useLockfile: true })).toBeNull();
});
