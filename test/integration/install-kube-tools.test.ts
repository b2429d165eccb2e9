/**
 * buildspecs/install-kube-tools.sh with pinned digests (verify.kubectlSha256 / verify.helmSha256): a release host of
 * the test's own (a local HTTP server) serves stand-in kubectl and helm downloads with their published checksum files,
 * as dl.k8s.io and get.helm.sh lay them out. The attack: the host serves other files with checksum files rewritten
 * to match them; the pinned digest refuses them, the published checksum alone would not (the last test shows it).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScript } from '../support/run-script';

jest.setTimeout(60_000);

const SCRIPT = path.join(__dirname, '..', '..', 'buildspecs', 'install-kube-tools.sh');
const ARCH = os.arch() === 'arm64' ? 'arm64' : 'amd64';
const KUBECTL_VERSION = '0.0.1';
const HELM_VERSION = '0.0.2';

let tmp: string;
let server: http.Server;
let baseUrl: string;
/** What the host serves, by path; each test publishes its own. */
let served = new Map<string, Buffer>();

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const script = (says: string) => Buffer.from(`#!/bin/sh\necho "${says}"\n`);

function helmTarball(says: string): Buffer {
  const dir = fs.mkdtempSync(path.join(tmp, 'helm-'));
  fs.mkdirSync(path.join(dir, `linux-${ARCH}`));
  fs.writeFileSync(path.join(dir, `linux-${ARCH}`, 'helm'), script(says), { mode: 0o755 });
  execFileSync('tar', ['-czf', path.join(dir, 'helm.tgz'), '-C', dir, `linux-${ARCH}`]);
  return fs.readFileSync(path.join(dir, 'helm.tgz'));
}

/** Serves a kubectl and a helm download, each with a published checksum that matches it. */
function publish(kubectl: Buffer, helm: Buffer): void {
  const tarball = `helm-v${HELM_VERSION}-linux-${ARCH}.tar.gz`;
  served = new Map([
    [`/kubectl/v${KUBECTL_VERSION}/bin/linux/${ARCH}/kubectl`, kubectl],
    [`/kubectl/v${KUBECTL_VERSION}/bin/linux/${ARCH}/kubectl.sha256`, Buffer.from(sha256(kubectl))],
    [`/helm/${tarball}`, helm],
    [`/helm/${tarball}.sha256sum`, Buffer.from(`${sha256(helm)}  ${tarball}\n`)],
  ]);
}

async function install(pins: { KUBECTL_SHA256?: string; HELM_SHA256?: string }): Promise<{ status: number | null; output: string; installDir: string }> {
  const installDir = fs.mkdtempSync(path.join(tmp, 'bin-'));
  const { status, output } = await runScript(SCRIPT, {
      PATH: process.env.PATH,
      KUBECTL_VERSION,
      HELM_VERSION,
      KUBECTL_DOWNLOAD_URL: `${baseUrl}/kubectl`,
      HELM_DOWNLOAD_URL: `${baseUrl}/helm`,
      KUBE_TOOLS_INSTALL_DIR: installDir,
      ...pins,
  });
  return { status, output, installDir };
}

const installed = (dir: string, tool: string) => fs.existsSync(path.join(dir, tool));

let genuine: { kubectl: Buffer; helm: Buffer };

beforeAll(async () => {
  tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'gw-kube-tools-'));
  genuine = { kubectl: script('kubectl genuine'), helm: helmTarball('helm genuine') };
  server = http.createServer((req, res) => {
    const body = served.get(req.url ?? '');
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
});

const PINS = () => ({ KUBECTL_SHA256: sha256(genuine.kubectl), HELM_SHA256: sha256(genuine.helm) });

test('the genuine downloads match the pinned digests and are installed; the log says what they were checked against', async () => {
  publish(genuine.kubectl, genuine.helm);
  const result = await install(PINS());
  expect(result.status).toBe(0);
  expect(result.output).toContain(`kubectl v${KUBECTL_VERSION}: sha256 checked against the pinned sha256 of the gateway config`);
  expect(result.output).toContain('sha256 checked against the pinned sha256 of the gateway config');
  expect(fs.readFileSync(path.join(result.installDir, 'kubectl'), 'utf-8')).toContain('kubectl genuine');
  expect(installed(result.installDir, 'helm')).toBe(true);
});

test('another kubectl with its published checksum rewritten to match: refused by the pinned digest, nothing installed', async () => {
  publish(script('kubectl evil'), genuine.helm);
  const result = await install(PINS());
  expect(result.status).not.toBe(0);
  expect(result.output).toMatch(new RegExp(`kubectl v${KUBECTL_VERSION}: sha256 [0-9a-f]{64} is not ${PINS().KUBECTL_SHA256}, the pinned sha256`));
  expect(installed(result.installDir, 'kubectl')).toBe(false);
});

test('another helm with its published checksum rewritten to match: refused by the pinned digest, nothing installed', async () => {
  publish(genuine.kubectl, helmTarball('helm evil'));
  const result = await install(PINS());
  expect(result.status).not.toBe(0);
  expect(result.output).toMatch(/helm-v0\.0\.2-linux-\w+\.tar\.gz: sha256 [0-9a-f]{64} is not [0-9a-f]{64}, the pinned sha256/);
  expect(installed(result.installDir, 'helm')).toBe(false);
});

test('without pins the published checksum is all there is: the same swap is installed, and the log says how it was checked', async () => {
  publish(script('kubectl evil'), genuine.helm);
  const result = await install({});
  expect(result.status).toBe(0);
  expect(result.output).toContain('checked against the checksum published beside the download (pin it in the gateway config');
  expect(fs.readFileSync(path.join(result.installDir, 'kubectl'), 'utf-8')).toContain('kubectl evil');
});

test('a download whose published checksum does not match is refused without pins too', async () => {
  publish(genuine.kubectl, genuine.helm);
  served.set(`/kubectl/v${KUBECTL_VERSION}/bin/linux/${ARCH}/kubectl`, script('kubectl corrupted'));
  const result = await install({});
  expect(result.status).not.toBe(0);
  expect(installed(result.installDir, 'kubectl')).toBe(false);
});
