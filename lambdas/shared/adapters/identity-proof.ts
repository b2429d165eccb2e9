import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { XMLParser } from 'fast-xml-parser';
import { CALLER_IDENTITY_BODY, DECISION_HEADER } from '../domain/identity-proof';
import { stsEndpoint } from './sts-endpoint';

/** The operator's side: GetCallerIdentity signed with their credentials, bound to one decision's digest. */
export async function signIdentityProof(digest: string, opts: { region: string; credentials?: AwsCredentialIdentity; now?: Date }): Promise<Record<string, string>> {
  const endpoint = await stsEndpoint(opts.region);
  const signer = new SignatureV4({ service: 'sts', region: opts.region, credentials: opts.credentials ?? defaultProvider(), sha256: Sha256 });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      path: endpoint.pathname || '/',
      query: {},
      headers: { host: endpoint.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', [DECISION_HEADER]: digest },
      body: CALLER_IDENTITY_BODY,
    },
    { signingDate: opts.now ?? new Date() },
  );
  return signed.headers;
}

interface StsError {
  readonly Code?: string;
  readonly Message?: string;
}

export class IdentityNotVerified extends Error {
  override readonly name = 'IdentityNotVerified';
}

/**
 * The approval function's side: the signed request, sent to this region's STS endpoint (never to an address the
 * caller chose); STS's answer is the caller's ARN.
 */
export async function verifiedCallerArn(headers: Record<string, string>, region: string): Promise<string> {
  const endpoint = await stsEndpoint(region);
  // fetch sets Host and Content-Length from the URL and body, which are the ones signed.
  const sent = Object.fromEntries(Object.entries(headers).filter(([k]) => !['host', 'content-length'].includes(k.toLowerCase())));
  const response = await fetch(endpoint, { method: 'POST', headers: sent, body: CALLER_IDENTITY_BODY });
  const text = await response.text();
  const parsed = new XMLParser().parse(text) as {
    GetCallerIdentityResponse?: { GetCallerIdentityResult?: { Arn?: string } };
    ErrorResponse?: { Error?: StsError; Errors?: { Error?: StsError } };
  };
  const arn = parsed.GetCallerIdentityResponse?.GetCallerIdentityResult?.Arn;
  if (response.ok && typeof arn === 'string' && arn) return arn;
  // STS nests the error in ErrorResponse.Error (moto in ErrorResponse.Errors.Error).
  const error = parsed.ErrorResponse?.Error ?? parsed.ErrorResponse?.Errors?.Error;
  throw new IdentityNotVerified(`STS refused the identity proof (${response.status}${error?.Code ? ` ${error.Code}` : ''}${error?.Message ? `: ${error.Message}` : ''})`);
}
