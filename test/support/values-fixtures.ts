/**
 * values.yaml fixtures in the HOWTO's layout, filled with unique canaries. Only the credentials are redacted from
 * what a run prints (tenant and auth.domain are identifiers an operator needs); but no error about bad input, and
 * no rendered file, quotes any value of the secret: the tests that use expectNoCanary check that.
 */

/** Unique canaries, one per value the operator pastes from the Bitwarden link. */
export const CANARY = {
  tenant: 'CANARY-tenant-4f1c',
  domain: 'CANARY-domain-9a7e.auth.example',
  clientId: 'CANARY-client-id-77b2',
  clientSecret: 'CANARY-s3cr3t-123',
  helmRepoUsername: 'CANARY-helm-user-5d0a',
  helmRepoPassword: 'CANARY-pw-8e3f',
};
export const ALL_CANARIES = Object.values(CANARY);

export interface ValuesParts {
  tenant?: string | null;
  domain?: string | null;
  clientId?: string | null;
  clientSecret?: string | null;
  helmRepoUsername?: string | null;
  helmRepoPassword?: string | null;
}

/** Builds a values.yaml in the seed's layout; `null` leaves a key out, a string is written verbatim after the colon. */
export function valuesYaml(overrides: ValuesParts = {}): string {
  const p: Required<ValuesParts> = {
    tenant: JSON.stringify(CANARY.tenant),
    domain: CANARY.domain,
    clientId: JSON.stringify(CANARY.clientId),
    clientSecret: JSON.stringify(CANARY.clientSecret),
    helmRepoUsername: JSON.stringify(CANARY.helmRepoUsername),
    helmRepoPassword: JSON.stringify(CANARY.helmRepoPassword),
    ...overrides,
  };
  const lines: string[] = [];
  if (p.tenant !== null) lines.push(`tenant: ${p.tenant}`);
  lines.push('auth:');
  if (p.domain !== null) lines.push(`  domain: ${p.domain}`);
  lines.push('  orchestrator:');
  if (p.clientId !== null) lines.push(`    clientId: ${p.clientId}`);
  if (p.clientSecret !== null) lines.push(`    clientSecret: ${p.clientSecret}`);
  if (p.helmRepoUsername !== null) lines.push(`helmRepoUsername: ${p.helmRepoUsername}`);
  if (p.helmRepoPassword !== null) lines.push(`helmRepoPassword: ${p.helmRepoPassword}`);
  return `${lines.join('\n')}\n`;
}

/** The canary values.yaml: every key present, every value a canary. */
export const VALUES_YAML = valuesYaml();

/** The HOWTO's example value of each key that has one (auth.domain has none: the seed shows a real domain). */
export const SEED_PLACEHOLDERS = {
  tenant: 'tenantID',
  clientId: 'clientId',
  clientSecret: 'clientSecret',
  helmRepoUsername: 'helmRepoUsername',
  helmRepoPassword: 'helmRepoPassword',
} as const;
export type PlaceholderKey = keyof typeof SEED_PLACEHOLDERS;

/** The HOWTO's example values pasted unchanged at `keys` (unquoted), canaries everywhere else. */
export function placeholderYaml(...keys: PlaceholderKey[]): string {
  return valuesYaml(Object.fromEntries(keys.map((key) => [key, SEED_PLACEHOLDERS[key]])));
}

/** Real values with an unterminated quote and flow sequence: the YAML library's own message would quote these lines. */
export const INVALID_YAML = `tenant: "${CANARY.tenant}"\nauth:\n  domain: ${CANARY.domain}\n  orchestrator:\n    clientId: "${CANARY.clientId}\n    clientSecret: [${CANARY.clientSecret}\n`;

/** No canary, and not even the word "canary" in any case, may appear in `text`. */
export function expectNoCanary(text: string): void {
  for (const canary of ALL_CANARIES) expect(text).not.toContain(canary);
  expect(text.toLowerCase()).not.toContain('canary');
}

/** The credentials among the canaries: what a run's logs and reports must never hold in clear. */
export const CREDENTIAL_CANARIES = [CANARY.clientId, CANARY.clientSecret, CANARY.helmRepoUsername, CANARY.helmRepoPassword];

/** No credential in `text`; the tenant and auth.domain may be there (an operator reads them in a failure). */
export function expectNoCredential(text: string): void {
  for (const credential of CREDENTIAL_CANARIES) expect(text).not.toContain(credential);
}
