/**
 * The EKS token the Verify helper mints in-process (buildspecs/helper/eks-token.ts) against the real
 * `aws eks get-token`: both decoded and compared. The CLI presigns offline, so fake credentials do; signed with the
 * same credentials at the same second (the CLI's X-Amz-Date), the two tokens must be the very same string, and
 * both expire 14 minutes later (the CLI's expiry a second later when its clock ticks between signing and expiry). Each case runs the CLI and the SDK in the same environment: the region's
 * endpoint, the emulator's AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS over it, FIPS, another partition.
 */
import { execFile } from 'node:child_process';
import { mintEksToken, urlOfToken } from '../../buildspecs/helper/eks-token';
import { awsCli } from '../support/local-tools';

jest.setTimeout(60_000);

const CLUSTER = 'gw-token';
/** Fake: never valid anywhere. The secret has the characters that need escaping in a URL. */
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SESSION_TOKEN = 'FQoGZXIvYXdzEJr//////////wEaDEXAMPLE+token/with=chars';

/** Everything either side reads: no profile, no config files, only what the case sets. */
function isolatedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_')) env[name] = value;
  return { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', ...CREDENTIALS, ...extra };
}

function cliToken(region: string, env: NodeJS.ProcessEnv): Promise<{ status: { token: string; expirationTimestamp: string } }> {
  return new Promise((resolve, reject) => {
    execFile(awsCli(), ['eks', 'get-token', '--cluster-name', CLUSTER, '--region', region, '--output', 'json'], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`aws eks get-token failed: ${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const cliTokens = new Map<string, ReturnType<typeof cliToken>>();
/** The CLI's token for a region and environment, run once per file (each run is a Python start, about a second). */
function cliTokenOnce(region: string, extra: Record<string, string>) {
  const key = JSON.stringify([region, extra]);
  if (!cliTokens.has(key)) cliTokens.set(key, cliToken(region, isolatedEnv(extra)));
  return cliTokens.get(key)!;
}

/** Ours, minted in this process with the case's environment (endpoint and credentials from the SDK's defaults). */
async function ourToken(region: string, env: NodeJS.ProcessEnv, now: Date) {
  const saved = process.env;
  process.env = env;
  try {
    return await mintEksToken({ clusterName: CLUSTER, region, now });
  } finally {
    process.env = saved;
  }
}

/** 20260101T120000Z → Date */
const amzDate = (text: string): Date => new Date(text.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

interface Shape {
  origin: string;
  path: string;
  params: string[];
  action: string | null;
  version: string | null;
  algorithm: string | null;
  credentialScope: string | null;
  signedHeaders: string | null;
  expires: string | null;
  securityToken: string | null;
  signatureLength: number;
  /** Minutes from X-Amz-Date to expirationTimestamp. */
  lifetimeMinutes: number;
}

function shapeOf(credential: { status: { token: string; expirationTimestamp: string } }): Shape {
  expect(credential.status.token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/); // base64url, no padding
  const url = urlOfToken(credential.status.token);
  const q = url.searchParams;
  return {
    origin: url.origin,
    path: url.pathname,
    params: [...q.keys()],
    action: q.get('Action'),
    version: q.get('Version'),
    algorithm: q.get('X-Amz-Algorithm'),
    credentialScope: q.get('X-Amz-Credential')?.replace(/\/\d{8}\//, '/<date>/') ?? null,
    signedHeaders: q.get('X-Amz-SignedHeaders'),
    expires: q.get('X-Amz-Expires'),
    securityToken: q.get('X-Amz-Security-Token'),
    signatureLength: q.get('X-Amz-Signature')?.length ?? 0,
    // Whole minutes: the CLI reads its clock again after signing, so on a busy machine its expiry is a second later.
    lifetimeMinutes: Math.floor((Date.parse(credential.status.expirationTimestamp) - amzDate(q.get('X-Amz-Date')!).getTime()) / 60_000),
  };
}

const cases: Array<[string, string, Record<string, string>, Partial<Shape>]> = [
  ['the region\'s endpoint', 'eu-central-1', {}, { origin: 'https://sts.eu-central-1.amazonaws.com', securityToken: null }],
  ['temporary credentials: the session token rides along, signed', 'us-east-1', { AWS_SESSION_TOKEN: SESSION_TOKEN }, { origin: 'https://sts.us-east-1.amazonaws.com', securityToken: SESSION_TOKEN }],
  ["the emulator's AWS_ENDPOINT_URL (as in the tests and the rehearsal)", 'eu-central-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5999', AWS_SESSION_TOKEN: 'testing' }, { origin: 'http://127.0.0.1:5999' }],
  ['AWS_ENDPOINT_URL_STS wins over AWS_ENDPOINT_URL, its path kept', 'us-west-2', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5999', AWS_ENDPOINT_URL_STS: 'https://sts.example.internal:8443/base/' }, { origin: 'https://sts.example.internal:8443', path: '/base/' }],
  ['FIPS', 'us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' }, { origin: 'https://sts-fips.us-east-1.amazonaws.com' }],
  ['the China partition', 'cn-north-1', {}, { origin: 'https://sts.cn-north-1.amazonaws.com.cn' }],
];

describe('our EKS token against `aws eks get-token`', () => {
  test.each(cases)('%s', async (_name, region, extra, expected) => {
    const env = isolatedEnv(extra);
    const cli = await cliTokenOnce(region, extra);
    const signedAt = amzDate(urlOfToken(cli.status.token).searchParams.get('X-Amz-Date')!);
    const ours = await ourToken(region, env, signedAt);

    const theirs = shapeOf(cli);
    const mine = shapeOf(ours);
    // The CLI's shape, as the EKS authenticator reads it.
    expect(theirs).toMatchObject({
      path: '/',
      params: ['Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', ...(theirs.securityToken ? ['X-Amz-Security-Token'] : []), 'X-Amz-Signature'],
      action: 'GetCallerIdentity',
      version: '2011-06-15',
      algorithm: 'AWS4-HMAC-SHA256',
      credentialScope: `AKIDEXAMPLE/<date>/${region}/sts/aws4_request`,
      signedHeaders: 'host;x-k8s-aws-id',
      expires: '60',
      signatureLength: 64,
      lifetimeMinutes: 14,
      ...expected,
    });
    expect(mine).toEqual(theirs);
    // Same credentials, same second: the same signature, so the very same token and credential, expiring 14 minutes
    // after X-Amz-Date (the CLI's expiry: then, or a second later when its clock ticked between signing and expiry).
    const withoutExpiry = (c: typeof cli) => ({ ...c, status: { ...c.status, expirationTimestamp: undefined } });
    expect(withoutExpiry(ours)).toEqual(withoutExpiry(cli));
    expect(Date.parse(ours.status.expirationTimestamp) - signedAt.getTime()).toBe(14 * 60_000);
    expect([0, 1000]).toContain(Date.parse(cli.status.expirationTimestamp) - Date.parse(ours.status.expirationTimestamp));
  });

  test('a token minted a second later differs only in its date and signature', async () => {
    const env = isolatedEnv({});
    // The first case's token: the same region and environment.
    const cli = await cliTokenOnce('eu-central-1', {});
    const signedAt = amzDate(urlOfToken(cli.status.token).searchParams.get('X-Amz-Date')!);
    const later = await ourToken('eu-central-1', env, new Date(signedAt.getTime() + 1000));
    expect(later.status.token).not.toBe(cli.status.token);
    const a = urlOfToken(cli.status.token).searchParams;
    const b = urlOfToken(later.status.token).searchParams;
    for (const name of ['Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Expires', 'X-Amz-SignedHeaders']) expect(b.get(name)).toBe(a.get(name));
    expect(b.get('X-Amz-Date')).not.toBe(a.get('X-Amz-Date'));
    expect(b.get('X-Amz-Signature')).not.toBe(a.get('X-Amz-Signature'));
  });
});
