/**
 * Fake credentials and the emulator's endpoint, set before any SDK client exists, so nothing under test (the
 * suite or a rehearsal) can reach real AWS. A profile is removed: SDK v3 would prefer it to the static keys.
 */
export const EMULATOR_REGION = 'eu-central-1';

export function isolateFromRealAws(motoEndpoint: string): void {
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_DEFAULT_PROFILE;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: motoEndpoint,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SESSION_TOKEN: 'testing',
    AWS_REGION: EMULATOR_REGION,
    AWS_DEFAULT_REGION: EMULATOR_REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
  });
}
