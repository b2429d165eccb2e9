/**
 * --state-dir: an upgrade rehearsed across two separate rehearsals, each with an emulator of its own, as two
 * runs of `npm run rehearse` would be. Everything the second run knows of the first comes from the folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMoto } from './support/moto';
import { sampleBundleFile } from '../rehearsal/harness';

jest.setTimeout(180_000);

let workDir: string;
beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-state-dir-'));
});
afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

async function rehearseOnFreshEmulator(bundle: string, stateDir: string) {
  const moto = await startMoto();
  try {
    // A new emulator means new SDK clients: the handlers build theirs at import.
    jest.resetModules();
    const { rehearse } = await import('../rehearsal/harness');
    return await rehearse({ motoEndpoint: moto.endpoint, workDir: path.join(workDir, `run-${path.basename(bundle, '.zip')}`), bundlePath: bundle, stateDir, prefix: 'state-dir' });
  } finally {
    await moto.stop();
  }
}

test('the second rehearsal upgrades what the first installed, from the state folder alone', async () => {
  const stateDir = path.join(workDir, 'state');
  const v1 = await sampleBundleFile(workDir, '1.0.0');
  const v2 = await sampleBundleFile(workDir, '1.1.0', { chartVersion: '0.16.21' });

  const first = await rehearseOnFreshEmulator(v1, stateDir);
  expect(first.status).toBe('SUCCEEDED');
  expect(fs.readdirSync(path.join(stateDir, 's3')).length).toBeGreaterThanOrEqual(2);

  const second = await rehearseOnFreshEmulator(v2, stateDir);
  expect(second.status).toBe('SUCCEEDED');
  const approval = second.notifications.find((n) => n.subject.includes('approve'))!;
  // The deployed version (table) and the Terraform state (state bucket) both came back from the folder.
  expect(approval.message).toContain('upgrade 1.0.0 → 1.1.0');
  expect(approval.subject).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
});
