import { motoAnswers, startMoto, type MotoServer } from './moto';
import { terraformVersion } from './terraform';
import { isolateFromRealAws } from '../../support/aws-isolation';

/** Where setup leaves the server it started; jest runs setup and teardown in the same process. */
export const MOTO_HANDLE_KEY = '__gatewayDeployerMoto';

export type MotoGlobal = typeof globalThis & { [MOTO_HANDLE_KEY]?: MotoServer };

export default async function globalSetup(): Promise<void> {
  await terraformVersion();

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
