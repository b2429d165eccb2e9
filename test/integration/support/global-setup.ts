import { motoAnswers, startMoto, type MotoServer } from './moto';
import { terraformVersion } from './terraform';

/** Where setup leaves the server it started; jest runs setup and teardown in the same process. */
export const MOTO_HANDLE_KEY = '__gatewayDeployerMoto';

export type MotoGlobal = typeof globalThis & { [MOTO_HANDLE_KEY]?: MotoServer };

/** Fake credentials and a default endpoint, so nothing in the tests can reach real AWS. */
function isolateFromRealAws(motoEndpoint: string): void {
  // A profile would take precedence over the static keys below in SDK v3's default chain.
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_DEFAULT_PROFILE;
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: 'eu-central-1',
    AWS_DEFAULT_REGION: 'eu-central-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    // Clients built without an explicit endpoint (code under test) go to moto, not AWS.
    AWS_ENDPOINT_URL: motoEndpoint,
  });
}

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
