/**
 * buildspecs/install-terraform.sh installs only a Terraform whose SHA256SUMS carries a valid signature of the pinned
 * release key. HashiCorp's own signature cannot be fetched offline, so a release host is made here: a local HTTP
 * server with a stand-in release (a zip whose `terraform` prints a version), signed by a throwaway key made for the
 * test with gpg, which the script is told to pin (HASHICORP_RELEASE_KEY, HASHICORP_KEY_FINGERPRINT). What this does
 * not show: that HashiCorp's real signature verifies against the committed key (a unit test checks the committed
 * key's fingerprint instead).
 *
 * Attacks, each installed without the signature check: a zip replaced with its SHA256SUMS rewritten to match; the
 * same, signed by the attacker's own key; no signature at all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScript } from '../support/run-script';
import { buildZip } from '../support/zip-fixtures';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'buildspecs', 'install-terraform.sh');
const VERSION = '0.0.1-test';
const ZIP = `terraform_${VERSION}_linux_${os.arch() === 'arm64' ? 'arm64' : 'amd64'}.zip`;
const SUMS = `terraform_${VERSION}_SHA256SUMS`;

let tmp: string;
let server: http.Server;
let baseUrl: string;
/** The files the release host serves, by release name; each test publishes its own. */
const releases = new Map<string, Map<string, Buffer>>();
const keys: Record<'release' | 'attacker', { home: string; fingerprint: string; publicKey: string }> = {} as never;

function makeKey(name: string): { home: string; fingerprint: string; publicKey: string } {
  const home = path.join(tmp, `gnupg-${name}`);
  fs.mkdirSync(home, { mode: 0o700 });
  // stdio ignored: gpg starts a gpg-agent daemon that would hold a captured pipe open (and execFileSync waiting).
  execFileSync('gpg', ['--batch', '--homedir', home, '--passphrase', '', '--quick-gen-key', `${name} <${name}@example.com>`, 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
  const listing = execFileSync('gpg', ['--batch', '--homedir', home, '--with-colons', '--list-keys'], { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'ignore'] });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)![1];
  const publicKey = path.join(tmp, `${name}.asc`);
  fs.writeFileSync(publicKey, execFileSync('gpg', ['--batch', '--homedir', home, '--armor', '--export', fingerprint]));
  return { home, fingerprint, publicKey };
}

function sign(home: string, data: Buffer): Buffer {
  const file = path.join(tmp, `to-sign-${Date.now()}-${Math.random()}`);
  fs.writeFileSync(file, data);
  execFileSync('gpg', ['--batch', '--homedir', home, '--yes', '--detach-sign', '-o', `${file}.sig`, file], { stdio: 'ignore' });
  return fs.readFileSync(`${file}.sig`);
}

const terraformZip = (says: string) => buildZip([{ name: 'terraform', content: `#!/bin/sh\necho "${says}"\n`, mode: 0o100755 }]);
const sumsFor = (zip: Buffer) => Buffer.from(`${createHash('sha256').update(zip).digest('hex')}  ${ZIP}\n`);

function publish(release: string, files: Record<string, Buffer>): string {
  releases.set(release, new Map(Object.entries(files)));
  return `${baseUrl}/${release}`;
}

/** Runs the script asynchronously: the release host answers from this process's event loop. */
async function install(releasesUrl: string): Promise<{ status: number | null; output: string; installed: boolean; installDir: string }> {
  const installDir = fs.mkdtempSync(path.join(tmp, 'bin-'));
  const { status, output } = await runScript(SCRIPT, {
      PATH: process.env.PATH,
      HOME: tmp,
      TF_VERSION: VERSION,
      TERRAFORM_RELEASES_URL: releasesUrl,
      TERRAFORM_INSTALL_DIR: installDir,
      HASHICORP_RELEASE_KEY: keys.release.publicKey,
      HASHICORP_KEY_FINGERPRINT: keys.release.fingerprint,
  });
  return { status, output, installed: fs.existsSync(path.join(installDir, 'terraform')), installDir };
}

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-install-tf-'));
  keys.release = makeKey('release');
  keys.attacker = makeKey('attacker');
  server = http.createServer((req, res) => {
    const [, release, , version, file] = (req.url ?? '').split('/');
    const body = version === VERSION ? releases.get(release)?.get(file) : undefined;
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  for (const key of Object.values(keys)) spawnSync('gpgconf', ['--homedir', key.home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

test('a release whose SHA256SUMS the pinned key signed is installed', async () => {
  const zip = await terraformZip(`Terraform v${VERSION}`);
  const sums = sumsFor(zip);
  const url = publish('good', { [ZIP]: zip, [SUMS]: sums, [`${SUMS}.sig`]: sign(keys.release.home, sums) });
  const result = await install(url);
  expect(result.output).toContain(`signed by HashiCorp's release key ${keys.release.fingerprint}`);
  expect(result.status).toBe(0);
  expect(execFileSync(path.join(result.installDir, 'terraform'), { encoding: 'utf-8' })).toContain(`Terraform v${VERSION}`);
});

test('another zip with SHA256SUMS rewritten to match, under the genuine signature: refused, nothing installed', async () => {
  const genuine = sumsFor(await terraformZip(`Terraform v${VERSION}`));
  const evil = await terraformZip('evil');
  const url = publish('rewritten', { [ZIP]: evil, [SUMS]: sumsFor(evil), [`${SUMS}.sig`]: sign(keys.release.home, genuine) });
  const result = await install(url);
  expect(result.status).not.toBe(0);
  expect(result.output).toContain(`not signed by HashiCorp's release key ${keys.release.fingerprint}`);
  expect(result.output).toMatch(/BAD signature/);
  expect(result.installed).toBe(false);
});

test('the same, signed by the attacker\'s own key: refused, nothing installed', async () => {
  const evil = await terraformZip('evil');
  const sums = sumsFor(evil);
  const url = publish('attacker', { [ZIP]: evil, [SUMS]: sums, [`${SUMS}.sig`]: sign(keys.attacker.home, sums) });
  const result = await install(url);
  expect(result.status).not.toBe(0);
  expect(result.output).toContain('not signed by HashiCorp');
  expect(result.installed).toBe(false);
});

test('no signature published: refused, nothing installed', async () => {
  const evil = await terraformZip('evil');
  const url = publish('unsigned', { [ZIP]: evil, [SUMS]: sumsFor(evil) });
  const result = await install(url);
  expect(result.status).not.toBe(0);
  expect(result.installed).toBe(false);
});

test('the committed release key is HashiCorp\'s: its primary fingerprint is the one the script pins', () => {
  const home = fs.mkdtempSync(path.join(tmp, 'gnupg-committed-'));
  fs.chmodSync(home, 0o700);
  execFileSync('gpg', ['--batch', '--homedir', home, '--import', path.join(ROOT, 'buildspecs', 'hashicorp-release-key.asc')], { stdio: 'ignore' });
  const listing = execFileSync('gpg', ['--batch', '--homedir', home, '--with-colons', '--list-keys'], { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'ignore'] });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)![1];
  expect(fingerprint).toBe('C874011F0AB405110D02105534365D9472D7468F');
  expect(fs.readFileSync(SCRIPT, 'utf-8')).toContain(`HASHICORP_KEY_FINGERPRINT:-${fingerprint}`);
});
