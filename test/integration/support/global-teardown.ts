import * as fs from 'node:fs';
import { MOTO_HANDLE_KEY, SCRATCH_KEY, type MotoGlobal } from './global-setup';

/**
 * Removes the run's scratch folder, and stops only the moto_server that global setup started; one passed in via
 * MOTO_ENDPOINT is left running.
 */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as MotoGlobal;
  const scratch = holder[SCRATCH_KEY];
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  delete holder[SCRATCH_KEY];
  const moto = holder[MOTO_HANDLE_KEY];
  if (!moto) return;
  delete holder[MOTO_HANDLE_KEY];
  await moto.stop();
}
