import { parseDocument } from 'yaml';
import * as z from 'zod';
import { ValuesError } from './errors';
import { formatIssues } from './issues';

/**
 * The Helm values.yaml the vendor shares through a Bitwarden Send link, stored by the operator as a Secrets
 * Manager secret. Every message here names the secret and the key, never a value: the values are the
 * credentials that connect the gateway to the orchestrator.
 */

/** The seed's example values, which an operator might paste unchanged. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  tenant: 'tenantID',
  'auth.orchestrator.clientId': 'clientId',
  'auth.orchestrator.clientSecret': 'clientSecret',
  helmRepoUsername: 'helmRepoUsername',
  helmRepoPassword: 'helmRepoPassword',
};

const required = z.string({ error: 'is missing or not a string' }).trim().min(1, { error: 'is empty' });

const valuesSchema = z.looseObject({
  tenant: required,
  auth: z.looseObject(
    {
      domain: required,
      orchestrator: z.looseObject({ clientId: required, clientSecret: required }, { error: 'is missing or not a mapping' }),
    },
    { error: 'is missing or not a mapping' },
  ),
  helmRepoUsername: required,
  helmRepoPassword: required,
});

export type GatewayValues = z.output<typeof valuesSchema>;

/** Parses and checks the values secret's text. Returns the parsed values for in-memory use only. */
export function parseValues(text: string | undefined, secretName: string): GatewayValues {
  if (text === undefined || text.trim() === '') {
    throw new ValuesError(`values secret "${secretName}" is empty; store the values.yaml from the Bitwarden link as its SecretString`);
  }
  // The yaml library's own messages quote the offending source line, so only positions are reported.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const where = doc.errors
      .map((e) => (e.linePos ? `line ${e.linePos[0].line} column ${e.linePos[0].col} (${e.code})` : e.code))
      .join('; ');
    throw new ValuesError(`values secret "${secretName}" is not valid YAML: ${where}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch {
    throw new ValuesError(`values secret "${secretName}" expands too many YAML aliases; store the plain values.yaml`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ValuesError(`values secret "${secretName}" must be a YAML mapping like the seed's values.yaml`);
  }
  const parsed = valuesSchema.safeParse(data);
  if (!parsed.success) {
    throw new ValuesError(`values secret "${secretName}" is incomplete:\n${formatIssues(parsed.error.issues)}`);
  }
  const left = placeholdersLeft(parsed.data);
  if (left.length > 0) {
    throw new ValuesError(
      `values secret "${secretName}" still holds the HOWTO's example values at ${left.join(', ')}; ` +
        'paste the values.yaml from the Bitwarden link',
    );
  }
  return parsed.data;
}

function placeholdersLeft(values: GatewayValues): string[] {
  const actual: Record<string, string> = {
    tenant: values.tenant,
    'auth.orchestrator.clientId': values.auth.orchestrator.clientId,
    'auth.orchestrator.clientSecret': values.auth.orchestrator.clientSecret,
    helmRepoUsername: values.helmRepoUsername,
    helmRepoPassword: values.helmRepoPassword,
  };
  return Object.entries(PLACEHOLDERS)
    .filter(([path, placeholder]) => actual[path] === placeholder)
    .map(([path]) => path);
}


/** The credentials, which are redacted whatever their length (a short password is still a password). */
const CREDENTIAL_PATHS = [
  (v: GatewayValues) => v.auth.orchestrator.clientId,
  (v: GatewayValues) => v.auth.orchestrator.clientSecret,
  (v: GatewayValues) => v.helmRepoUsername,
  (v: GatewayValues) => v.helmRepoPassword,
];

/**
 * The strings to redact from anything stored or printed: the credentials, and every other string of the values
 * long enough not to be an ordinary word (`true`, `s3`), since an unknown key may hold a secret too.
 */
export function secretStrings(values: GatewayValues, minLength = 6): string[] {
  const out = new Set<string>(CREDENTIAL_PATHS.map((get) => get(values)).filter((s) => s.length >= 3));
  const walk = (node: unknown): void => {
    if (typeof node === 'string') {
      if (node.length >= minLength) out.add(node);
    } else if (Array.isArray(node)) {
      node.forEach(walk);
    } else if (node && typeof node === 'object') {
      Object.values(node).forEach(walk);
    }
  };
  walk(values);
  // Terraform's output is redacted line by line, so a multi-line secret is also redacted by its lines.
  for (const secret of [...out]) {
    if (secret.includes('\n')) secret.split('\n').filter((line) => line.trim().length >= minLength).forEach((line) => out.add(line));
  }
  return [...out];
}
