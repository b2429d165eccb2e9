import { createHash } from 'node:crypto';

/**
 * Who is deciding, proved the way EKS tokens and Vault's AWS auth prove it: the operator signs an STS
 * GetCallerIdentity request with their own AWS credentials and hands the signed headers to the approval function,
 * which sends that request to STS itself. STS checks the signature and answers with the signer's ARN; nobody can
 * produce it without the signer's credentials, however the function was invoked. The signature also covers a
 * header with the digest of the decision, so a proof made for one decision cannot be replayed for another, and the
 * function refuses proofs older than a few minutes.
 */

/** The signed header that binds the proof to one decision. */
export const DECISION_HEADER = 'x-gateway-deployer-decision';
/** How old a proof may be (its X-Amz-Date), and how far in the future (clock skew). */
export const PROOF_MAX_AGE_SECONDS = 300;
/** GetCallerIdentity as a form-encoded POST body: what is signed and sent. */
export const CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

export interface DecisionFields {
  readonly execution: string;
  readonly decision: string;
  readonly reason: string;
  readonly planSha256?: string;
}

/** The digest of a decision, over its fields in a fixed order. */
export function decisionDigest(d: DecisionFields): string {
  return createHash('sha256')
    .update(JSON.stringify([d.execution, d.decision, d.reason, d.planSha256 ?? null]))
    .digest('hex');
}

/** What is wrong with a proof's headers before STS is asked; null when STS may judge it. */
export function proofProblem(headers: Record<string, string> | undefined, digest: string, now: Date): string | null {
  if (!headers || typeof headers !== 'object') return 'the request carries no identity proof (the deployer CLI signs one)';
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  const signedHeaders = /SignedHeaders=([^,\s]+)/.exec(lower.authorization ?? '')?.[1]?.split(';') ?? [];
  if (!signedHeaders.includes(DECISION_HEADER)) return `the identity proof does not sign the ${DECISION_HEADER} header`;
  if (lower[DECISION_HEADER] !== digest) return 'the identity proof was made for another decision';
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(lower['x-amz-date'] ?? '');
  if (!stamp) return 'the identity proof has no X-Amz-Date';
  const signedAt = Date.UTC(+stamp[1], +stamp[2] - 1, +stamp[3], +stamp[4], +stamp[5], +stamp[6]);
  const age = (now.getTime() - signedAt) / 1000;
  if (age > PROOF_MAX_AGE_SECONDS || age < -PROOF_MAX_AGE_SECONDS) return `the identity proof was signed ${Math.round(age)} s ago; sign a new one (at most ${PROOF_MAX_AGE_SECONDS} s)`;
  return null;
}
