/**
 * --state-dir: an upgrade rehearsed across two separate rehearsals, each starting from an empty emulator, as two
 * runs of `npm run rehearse` would be. Everything the second run knows of the first comes from the folder. The
 * file has an emulator of its own (the shared one holds other files' resources) and empties it before each run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { s3Client } from './support/aws-clients';
import { resetMoto, startMoto, type MotoServer } from './support/moto';
import { forgetEmulatorResources, rehearse, sampleBundleFile } from '../rehearsal/harness';

jest.setTimeout(180_000);

let workDir: string;
let moto: MotoServer;
beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-state-dir-'));
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

async function rehearseOnEmptyEmulator(bundle: string, stateDir: string) {
  await resetMoto(moto.endpoint);
  expect((await s3Client(moto.endpoint).send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
  forgetEmulatorResources(moto.endpoint);
  return rehearse({ motoEndpoint: moto.endpoint, workDir: path.join(workDir, `run-${path.basename(bundle, '.zip')}`), bundlePath: bundle, stateDir, prefix: 'state-dir' });
}

test('the second rehearsal upgrades what the first installed, from the state folder alone', async () => {
  const stateDir = path.join(workDir, 'state');
  const v1 = await sampleBundleFile(workDir, '1.0.0');
  const v2 = await sampleBundleFile(workDir, '1.1.0', { chartVersion: '0.16.21' });

  const first = await rehearseOnEmptyEmulator(v1, stateDir);
  expect(first.status).toBe('SUCCEEDED');
  expect(fs.readdirSync(path.join(stateDir, 's3')).length).toBeGreaterThanOrEqual(2);

  const second = await rehearseOnEmptyEmulator(v2, stateDir);
  expect(second.status).toBe('SUCCEEDED');
  const approval = second.notifications.find((n) => n.subject.includes('approve'))!;
  // The deployed version (table) and the Terraform state (state bucket) both came back from the folder.
  expect(approval.message).toContain('upgrade 1.0.0 → 1.1.0');
  expect(approval.subject).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
});
