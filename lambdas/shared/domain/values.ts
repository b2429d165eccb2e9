import { loadAll, YAMLException } from 'js-yaml';
import * as z from 'zod/mini';
import './zod-locale';
import { ValuesError } from './errors';
import { formatIssues } from './issues';

/**
 * The Helm values.yaml the vendor shares through a Bitwarden Send link, stored by the operator as a Secrets
 * Manager secret. Every message here names the secret and the key, never a value: the values are the
 * credentials that connect the gateway to the orchestrator.
 */

/** The HOWTO's example values, which an operator might paste unchanged. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  tenant: 'tenantID',
  'auth.orchestrator.clientId': 'clientId',
  'auth.orchestrator.clientSecret': 'clientSecret',
  helmRepoUsername: 'helmRepoUsername',
  helmRepoPassword: 'helmRepoPassword',
};

/**
 * Values are parsed with js-yaml (YAML 1.2, core schema: no custom tags, no merge keys, duplicate keys refused),
 * which is less than half the size of the `yaml` package in the Preflight bundle; the CLI and the CDK app keep
 * `yaml`. Aliases share one object (nothing is copied), so an alias bomb cannot expand here; the limit keeps a
 * pasted file plain, and secretStrings() walks shared nodes once.
 */
const MAX_ALIASES = 20;

/**
 * Where the YAML breaks, never what it says: js-yaml's message quotes the source lines around the problem, so
 * only the position (1-based) and the reason are kept, and the reason is cut before any part that can come from
 * the text (a tag, anchor or handle name: `unidentified alias "…"`, `unknown scalar tag !<…>`, `…: <name>`).
 */
function yamlProblem(error: YAMLException): string {
  const reason = error.reason.split(/\s*(?:"|!<|: )/)[0] || 'syntax error';
  return error.mark ? `line ${error.mark.line + 1} column ${error.mark.column + 1} (${reason})` : reason;
}

const required = z.string({ error: 'is missing or not a string' }).check(z.trim(), z.minLength(1, { error: 'is empty' }));

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
  let data: unknown;
  try {
    const documents = loadAll(text, { maxAliases: MAX_ALIASES });
    if (documents.length > 1) {
      throw new ValuesError(`values secret "${secretName}" is not valid YAML: it holds ${documents.length} documents; store the one values.yaml`);
    }
    // A file of comments only holds no document: refused below as not a mapping, like `~`.
    data = documents[0] ?? null;
  } catch (error) {
    if (error instanceof ValuesError) throw error;
    if (!(error instanceof YAMLException)) throw new ValuesError(`values secret "${secretName}" could not be read as YAML`);
    if (error.reason.startsWith('aliases exceeded')) {
      throw new ValuesError(`values secret "${secretName}" uses more than ${MAX_ALIASES} YAML aliases; store the plain values.yaml`);
    }
    throw new ValuesError(`values secret "${secretName}" is not valid YAML: ${yamlProblem(error)}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ValuesError(`values secret "${secretName}" must be a YAML mapping like the HOWTO's values.yaml`);
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
 * Keys that hold credentials by their name, wherever they stand in values.yaml: everything under them is redacted.
 * Identifiers an operator needs to read a failure (`tenant`, `auth.domain`, hostnames, regions) are not secrets and
 * stay readable; a key the vendor adds that holds a secret under another name is named in the config
 * (`valuesSecretKeys`).
 */
export const SECRET_KEY_NAME = /secret|passw(or)?d|passphrase|token|credential|private.?key|api.?key|access.?key|client.?id|auth.?header|cookie/i;

/** Below this length a string is not redacted: it would redact ordinary text (`pw` in every `upgrade`). */
const MIN_SECRET_LENGTH = 3;

/**
 * The strings to redact from anything stored or printed, chosen by kind: the four credentials, every string under
 * a key whose name says it is a credential (SECRET_KEY_NAME), every string under a dotted path the config marks
 * secret (`valuesSecretKeys`, e.g. `auth.orchestrator.extraKey`), and the Helm login as `user:password` (the form
 * basic auth encodes). Not: tenant, auth.domain and the other identifiers a failure must show.
 */
export function secretStrings(values: GatewayValues, markedSecret: readonly string[] = []): string[] {
  const out = new Set<string>(CREDENTIAL_PATHS.map((get) => get(values)).filter((s) => s.length >= MIN_SECRET_LENGTH));
  out.add(`${values.helmRepoUsername}:${values.helmRepoPassword}`);
  const marked = new Set(markedSecret);
  // A YAML alias is the same object as its anchor: each object is walked once (as secret, and as not), however
  // often it is referenced.
  const seen = new Set<string>();
  let ids = 0;
  const idOf = new WeakMap<object, number>();
  const walk = (node: unknown, path: string, secret: boolean): void => {
    if (typeof node === 'string') {
      if (secret && node.length >= MIN_SECRET_LENGTH) out.add(node);
      return;
    }
    if (!node || typeof node !== 'object') return;
    if (!idOf.has(node)) idOf.set(node, ++ids);
    const visit = `${idOf.get(node)} ${secret}`;
    if (seen.has(visit)) return;
    seen.add(visit);
    for (const [key, child] of Object.entries(node)) {
      const childPath = Array.isArray(node) ? path : path ? `${path}.${key}` : key;
      walk(child, childPath, secret || (!Array.isArray(node) && (SECRET_KEY_NAME.test(key) || marked.has(childPath))));
    }
  };
  walk(values, '', false);
  // Terraform's output is redacted line by line, so a multi-line secret is also redacted by its lines.
  for (const secret of [...out]) {
    if (secret.includes('\n')) secret.split('\n').filter((line) => line.trim().length >= MIN_SECRET_LENGTH).forEach((line) => out.add(line));
  }
  return [...out];
}
