/**
 * The secret canary (issue #7, item 2): a rehearsal whose values.yaml and Helm credentials are unique canary
 * strings, then a scan of everything the run left (`--dump`: execution history, every build and handler log,
 * the notifications, every version of every S3 object) for each canary, as is, JSON-escaped and base64-encoded.
 * Only the Terraform state, the plan binary and the bundle zips may hold them. Then the same after an apply that
 * fails and prints the values in its error, as some providers do.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLE_CONFIG } from '../../lib/config';
import { rehearse, sampleBundleFile, type RehearsalOptions, type RehearsalReport } from '../rehearsal/harness';
import { getObjectText, motoEndpoint } from './support/aws-clients';
import { listFiles } from '../support/files';

jest.setTimeout(180_000);

const prefix = `canary-${process.pid}-${Date.now().toString(36)}`;
let workDir: string;

beforeAll(async () => {
  workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-canary-'));
});

afterAll(async () => {
  if (workDir) await fs.promises.rm(workDir, { recursive: true, force: true });
});

/**
 * New for every run of this file, so nothing but this run can have put them anywhere. Only credentials are secrets:
 * the tenant is an identifier an operator needs to read a failure, and stays readable (checked below).
 */
const TENANT = `tenant-${randomUUID()}`;
const CANARIES = {
  clientId: `canary-client-id-${randomUUID()}`,
  // Quote and backslash: its JSON-escaped forms differ from it. & < >: Terraform's jsonencode (Go) prints them as
  // \u0026 \u003c \u003e, forms a scan for the plain JSON escape would miss.
  clientSecret: `canary-client-secret-${randomUUID()}-"q\\&<>`,
  helmRepoUsername: `canary-helm-user-${randomUUID()}`,
  // U+2028 (LINE SEPARATOR): Go's JSON encoder escapes it as \u2028; JavaScript's does not.
  helmRepoPassword: `canary-helm-pass-${randomUUID()}-\u2028&`,
};

/** A YAML double-quoted scalar: JSON's escapes, and U+2028 escaped too so that no YAML reader takes it for a line break. */
const yamlQuoted = (value: string) => JSON.stringify(value).replace(/\u2028/g, '\\u2028');

const VALUES_YAML = [
  `tenant: ${JSON.stringify(TENANT)}`,
  'auth:',
  '  domain: auth.app.apheris.net',
  '  orchestrator:',
  `    clientId: ${yamlQuoted(CANARIES.clientId)}`,
  `    clientSecret: ${yamlQuoted(CANARIES.clientSecret)}`,
  `helmRepoUsername: ${yamlQuoted(CANARIES.helmRepoUsername)}`,
  `helmRepoPassword: ${yamlQuoted(CANARIES.helmRepoPassword)}`,
  '',
].join('\n');

/** Its own values secret: other rehearsal files write theirs to the example config's secret name, in parallel. */
const CONFIG = { ...EXAMPLE_CONFIG, valuesSecretName: `${prefix}/values.yaml` };

const run = (name: string, options: Partial<RehearsalOptions>): Promise<RehearsalReport> =>
  rehearse({ motoEndpoint: motoEndpoint(), workDir: path.join(workDir, name), prefix, valuesYaml: VALUES_YAML, ...options });

const bundle = (version: string): Promise<string> => sampleBundleFile(workDir, version);

/**
 * The base64 text that any encoding of `secret` contains, whatever bytes stand before and after it: for each of
 * the three alignments, the characters that encode only the secret's own bytes.
 */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf-8');
  return [0, 1, 2].map((pad) => {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const fullGroups = Math.floor((pad + bytes.length) / 3);
    return encoded.slice(pad === 0 ? 0 : 4, fullGroups * 4);
  });
}

const jsonEscaped = (s: string) => JSON.stringify(s).slice(1, -1);
/** Go's encoding/json (Terraform's jsonencode, provider request bodies): also escapes < > & U+2028 U+2029. */
const goEscaped = (s: string) => jsonEscaped(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Every form of every canary the scan looks for, named for the failure message. */
const FORMS: Array<{ canary: string; form: string; text: string }> = Object.entries(CANARIES).flatMap(([canary, value]) => [
  { canary, form: 'as is', text: value },
  { canary, form: 'JSON-escaped', text: jsonEscaped(value) },
  { canary, form: 'JSON-escaped twice', text: jsonEscaped(jsonEscaped(value)) },
  { canary, form: 'Go-JSON-escaped', text: goEscaped(value) },
  // Two levels, either encoder at each: a values.yaml quoted the JSON way, then printed by Terraform's jsonencode.
  { canary, form: 'Go-JSON-escaped twice', text: goEscaped(goEscaped(value)) },
  { canary, form: 'JSON- then Go-JSON-escaped', text: goEscaped(jsonEscaped(value)) },
  { canary, form: 'Go-JSON- then JSON-escaped', text: jsonEscaped(goEscaped(value)) },
  { canary, form: 'URL-encoded', text: encodeURIComponent(value) },
  ...base64Cores(value).map((text, i) => ({ canary, form: `base64 (offset ${i})`, text })),
]);

function leaks(text: string): string[] {
  return FORMS.filter((f) => text.includes(f.text)).map((f) => `${f.canary} ${f.form}`);
}

/**
 * What may hold the values in clear: the Terraform state (and the state backups and its earlier versions), the plan
 * binary, and the bundles. Earlier versions of an object are dumped as `<key>.version-<id>`.
 */
const MAY_HOLD_SECRETS = [/\.tfstate(\.version-[^/]*)?$/, /\/tfplan(\.version-[^/]*)?$/, /\.zip(\.version-[^/]*)?$/];

/** Scans every other file of the dump; returns the files it read. */
async function expectNoCanaryIn(dumpDir: string): Promise<string[]> {
  const files = await listFiles(dumpDir);
  const scanned = files.filter((f) => !MAY_HOLD_SECRETS.some((p) => p.test(f)));
  const found: Array<{ file: string; leaks: string[] }> = [];
  for (const file of scanned) {
    const text = (await fs.promises.readFile(path.join(dumpDir, file))).toString('utf-8');
    const hits = leaks(text);
    if (hits.length > 0) found.push({ file, leaks: hits });
  }
  expect(found).toEqual([]);
  return scanned;
}

test('the scan finds every canary in every form it looks for', () => {
  // Without this, a scan that never matches would pass everything below.
  expect(leaks(VALUES_YAML).length).toBeGreaterThanOrEqual(Object.keys(CANARIES).length);
  for (const [name, value] of Object.entries(CANARIES)) {
    for (const wrapped of [`x${value}y`, JSON.stringify({ v: value }), JSON.stringify(JSON.stringify({ v: value })), `{"v":"${goEscaped(value)}"}`, `{"v":"${goEscaped(jsonEscaped(value))}"}`]) {
      expect({ name, wrapped, found: leaks(wrapped).length > 0 }).toEqual({ name, wrapped, found: true });
    }
    for (const before of ['', 'a', 'ab', 'abc']) {
      const b64 = Buffer.from(`${before}${value}!`).toString('base64');
      expect({ name, before, found: leaks(`data: ${b64}`).some((l) => l.includes('base64')) }).toEqual({ name, before, found: true });
    }
  }
});

test('a first install with canary values and credentials leaves none of them anywhere but the state and the plan binary', async () => {
  const dumpDir = path.join(workDir, 'dump-install');
  const report = await run('install', { config: CONFIG, bundlePath: await bundle('1.0.0'), dumpDir });
  expect(report.status).toBe('SUCCEEDED');

  const scanned = await expectNoCanaryIn(dumpDir);
  // The dump is complete: history, every notification, all three builds' logs, the handlers' logs, and the objects.
  expect(scanned).toEqual(expect.arrayContaining(['execution-history.json', 'logs/handlers/preflight.log', 'logs/handlers/render-workspace.log', 'logs/handlers/notify.log']));
  expect(scanned.filter((f) => f.startsWith('notifications/'))).toHaveLength(report.notifications.length);
  expect(scanned.filter((f) => f.startsWith('logs/builds/'))).toHaveLength(3);
  const artifacts = `s3/${report.resources.artifactsBucket}/`;
  for (const suffix of ['/plan.json', '/plan.txt', '/apply.json', '/verification.json', '/gateway.tf.json', '/backend.tf.json', '/variables.tf.json']) {
    expect({ suffix, dumped: scanned.some((f) => f.startsWith(artifacts) && f.endsWith(suffix)) }).toEqual({ suffix, dumped: true });
  }
  // The canaries were in play: the sample module keeps digests of the values and the Helm login in the state
  // (which may hold secrets, and was not scanned), and they are the digests of this file's canaries.
  const state = await fs.promises.readFile(path.join(dumpDir, 's3', report.resources.stateBucket, 'gateways', 'gateway', 'terraform.tfstate'), 'utf-8');
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  expect(state).toContain(`"values_sha": "${sha256(VALUES_YAML)}"`);
  expect(state).toContain(`"repository_login_sha": "${sha256(`${CANARIES.helmRepoUsername}:${CANARIES.helmRepoPassword}`)}"`);
});

test('an apply that fails printing the values: the log has them redacted, the dump has no canary, the notice still says what to do', async () => {
  const dumpDir = path.join(workDir, 'dump-failed');
  // The sample module's stand-in for a provider whose error quotes the chart values (as YAML and JSON-encoded).
  const config = { ...CONFIG, module: { ...CONFIG.module, extra_inputs: { simulate_apply_error_with_values: true } } };
  const report = await run('failed-apply', { config, bundlePath: await bundle('1.1.0'), dumpDir });
  expect(report.status).toBe('FAILED');

  await expectNoCanaryIn(dumpDir);
  // The values really were printed, and redacted line by line: the error's lines are there with the marker.
  const logs = await fs.promises.readdir(path.join(dumpDir, 'logs', 'builds'));
  const applyLog = (await Promise.all(logs.map((f) => fs.promises.readFile(path.join(dumpDir, 'logs', 'builds', f), 'utf-8')))).find((l) => l.includes('rendering chart gateway-agent failed'));
  expect(applyLog).toBeDefined();
  // The tenant is an identifier, not a credential: the operator reads it in the failure.
  expect(applyLog).toContain(`(local-exec): tenant: ${JSON.stringify(TENANT)}`);
  expect(applyLog).toMatch(/\(local-exec\): +clientSecret: "\(redacted\)"/);
  expect(applyLog).toMatch(/\(local-exec\): request: \[.*\(redacted\).*\]/);

  const notices = report.notifications.filter((n) => n.subject.includes('deployment failed'));
  expect(notices.map((n) => n.subject)).toEqual(['Compute Gateway gateway: deployment failed at Apply (States.TaskFailed)']);
  const notice = notices[0].message;
  expect(notice).toContain('What happened: Terraform failed');
  expect(notice).toContain("What to do: Read the build log; contact the vendor's support if the error is in the gateway module.");
  expect(notice).toContain('Terraform may have applied part of the plan before it failed');
  expect(notice).toMatch(/Log: CloudWatch log group \S+, stream \S+/);
  // The failure report names the provider's error, without the values.
  const failure = JSON.parse(await getObjectText(report.resources.artifactsBucket, `reports/gateway/${report.executionName}/apply-failure.json`));
  expect(failure).toMatchObject({ step: 'apply', failure: 'unknown', firstError: 'rendering chart gateway-agent failed; values given:' });
});
