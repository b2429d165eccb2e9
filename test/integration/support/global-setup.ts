import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { motoAnswers, startMoto, type MotoServer } from './moto';
import { terraformVersion } from './terraform';
import { isolateFromRealAws } from '../../support/aws-isolation';
import { STEP_SOURCE_ENV, SYNTH_CACHE_ENV, stepSourceInto } from '../../support/build-cache';

/** Where setup leaves the server it started; jest runs setup and teardown in the same process. */
export const MOTO_HANDLE_KEY = '__gatewayDeployerMoto';

/** The run's scratch folder (prebuilt step source, shared synth templates): test/support/build-cache.ts. */
export const SCRATCH_KEY = '__gatewayDeployerScratch';

export type MotoGlobal = typeof globalThis & { [MOTO_HANDLE_KEY]?: MotoServer; [SCRATCH_KEY]?: string };

export default async function globalSetup(): Promise<void> {
  await terraformVersion();

  // Built once here instead of once per test file (seconds each); the workers inherit the variables.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-it-'));
  (globalThis as MotoGlobal)[SCRATCH_KEY] = scratch;
  stepSourceInto(path.join(scratch, 'step-source'));
  fs.mkdirSync(path.join(scratch, 'synth'));
  process.env[STEP_SOURCE_ENV] = path.join(scratch, 'step-source');
  process.env[SYNTH_CACHE_ENV] = path.join(scratch, 'synth');

  const existing = process.env.MOTO_ENDPOINT?.replace(/\/+$/, '');
  if (existing) {
    if (!(await motoAnswers(existing, 5_000))) {
      throw new Error(`MOTO_ENDPOINT=${existing} does not answer GET /moto-api/; start moto_server there or unset it`);
    }
    process.env.MOTO_ENDPOINT = existing;
    isolateFromRealAws(existing);
    return;
  }

  const moto = await startMoto();
  (globalThis as MotoGlobal)[MOTO_HANDLE_KEY] = moto;
  process.env.MOTO_ENDPOINT = moto.endpoint;
  isolateFromRealAws(moto.endpoint);
}
