import { MOTO_HANDLE_KEY, type MotoGlobal } from './global-setup';

/** Stops only the moto_server that global setup started; one passed in via MOTO_ENDPOINT is left running. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as MotoGlobal;
  const moto = holder[MOTO_HANDLE_KEY];
  if (!moto) return;
  delete holder[MOTO_HANDLE_KEY];
  await moto.stop();
}
