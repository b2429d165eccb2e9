/**
 * The EKS bearer token, minted in-process: what `aws eks get-token` prints, without starting the AWS CLI (about a
 * second of Python start-up in CodeBuild, most of a Verify build's own time). The scheme is aws-iam-authenticator's:
 * an STS GetCallerIdentity GET request presigned with SigV4 (the header `x-k8s-aws-id: <cluster>` signed,
 * X-Amz-Expires=60), and the token is "k8s-aws-v1." + the URL in unpadded base64url. The API server hands the URL
 * to STS, which answers with the caller's identity; the token itself is accepted for 15 minutes, and like the CLI
 * we report it as expiring after 14.
 *
 * The STS endpoint is resolved by the SDK's STS client, so it follows what the CLI's botocore follows for
 * get-token: the region's endpoint (sts.<region>.amazonaws.com, sts.<region>.amazonaws.com.cn, ...), FIPS with
 * AWS_USE_FIPS_ENDPOINT, and a configured endpoint (AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, or the config
 * file's services section). Not followed: AWS_STS_REGIONAL_ENDPOINTS=legacy (the CLI's global sts.amazonaws.com
 * for some regions); the regional endpoint is valid for EKS in every region. Credentials come from the SDK's
 * default chain (environment, config files, the CodeBuild container credentials, instance metadata), as the CLI's.
 *
 * Imported by verify-step only: kube-token.js (kubectl's credential plugin) must stay free of the SDK.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { stsEndpoint } from '../../lambdas/shared/adapters/sts-endpoint';

export { stsEndpoint };
import type { ExecCredential } from './token-cache';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header aws-iam-authenticator reads the cluster name from; it must be signed. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** X-Amz-Expires of the presigned URL, as the CLI and aws-iam-authenticator set it. */
export const PRESIGN_EXPIRES_SECONDS = 60;
/** The CLI reports the token as valid for 14 minutes (EKS accepts it for 15). */
export const TOKEN_LIFETIME_MINUTES = 14;

type SignerCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];
type PresignRequest = Parameters<SignatureV4['presign']>[0];

export interface MintOptions {
  readonly clusterName: string;
  readonly region: string;
  /** Signing time; the token's expiry is 14 minutes after it. Default: now. */
  readonly now?: Date;
  /** Default: the SDK's default credential chain. */
  readonly credentials?: SignerCredentials;
}

/** `2026-01-01T12:14:00Z`: the CLI's format (no fraction of a second). */
export const expirationOf = (signedAt: Date): string =>
  new Date(signedAt.getTime() + TOKEN_LIFETIME_MINUTES * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The presigned GetCallerIdentity URL the token carries. */
export async function presignedCallerIdentityUrl(opts: MintOptions & { readonly endpoint: URL }): Promise<string> {
  const { endpoint } = opts;
  const signer = new SignatureV4({
    credentials: opts.credentials ?? defaultProvider(),
    region: opts.region,
    service: 'sts',
    sha256: Sha256,
    uriEscapePath: true,
  });
  const request: PresignRequest = {
    method: 'GET',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
    path: endpoint.pathname || '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    // `host` includes a non-default port, as botocore signs it.
    headers: { host: endpoint.host, [CLUSTER_ID_HEADER]: opts.clusterName },
  };
  const signed = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: opts.now ?? new Date() });
  // The parameters in the CLI's order, so that the same credentials and second give the very same token.
  // Any parameter a later signer adds still goes along (before the signature): order does not matter to STS.
  const query = signed.query ?? {};
  const known: readonly string[] = QUERY_ORDER;
  const names = [...known.slice(0, -1), ...Object.keys(query).filter((name) => !known.includes(name)), 'X-Amz-Signature'];
  const text = names
    .filter((name) => query[name] !== undefined)
    .map((name) => `${encodeRfc3986(name)}=${encodeRfc3986(String(query[name]))}`)
    .join('&');
  return `${endpoint.protocol}//${endpoint.host}${request.path}?${text}`;
}

/** botocore's order: the request's own parameters, then the signing ones, the session token after SignedHeaders. */
const QUERY_ORDER = [
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
] as const;

/** Percent-encoding as SigV4 (and botocore's quote with safe='-_.~') does it. */
const encodeRfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export const tokenOfUrl = (url: string): string => TOKEN_PREFIX + Buffer.from(url, 'utf-8').toString('base64url');

/** The URL inside a token (ours or the CLI's); throws on anything else. */
export function urlOfToken(token: string): URL {
  if (!token.startsWith(TOKEN_PREFIX)) throw new Error(`not an EKS token: it does not start with ${TOKEN_PREFIX}`);
  return new URL(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf-8'));
}

/** What `aws eks get-token --cluster-name <cluster> --region <region> --output json` prints. */
export async function mintEksToken(opts: MintOptions): Promise<ExecCredential> {
  const now = opts.now ?? new Date();
  const endpoint = await stsEndpoint(opts.region);
  const url = await presignedCallerIdentityUrl({ ...opts, now, endpoint });
  return {
    kind: 'ExecCredential',
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    spec: {},
    status: { expirationTimestamp: expirationOf(now), token: tokenOfUrl(url) },
  };
}
