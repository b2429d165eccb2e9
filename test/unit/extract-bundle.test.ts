import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractBundle } from '../../lambdas/shared/adapters/zip-reader';
import { BundleLimits } from '../../lambdas/shared/domain/bundle';
import { BundleError } from '../../lambdas/shared/domain/errors';
import { SAMPLE_MODULE_FILES, buildZip, renameEntry, sampleModuleZip } from '../support/zip-fixtures';

const BUNDLE = 'gateway-0.8.1.zip';
const LIMITS: BundleLimits = { maxEntries: 5_000, maxUncompressedBytes: 256 * 1024 * 1024 };

let tmp: string;
let dest: string;
let umask: number;

beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'extract-'));
  dest = path.join(tmp, 'work', 'gateway');
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Every path below a folder, folders with a trailing "/", sorted. */
function tree(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .map((p) => (fs.lstatSync(path.join(root, p)).isDirectory() ? `${p}/` : p))
    .sort();
}

async function refusal(zip: Buffer): Promise<BundleError> {
  const err = await extractBundle(BUNDLE, zip, dest, LIMITS).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  expect((err as Error).message).toContain(BUNDLE);
  return err as BundleError;
}

describe('extractBundle', () => {
  test('writes the sample module: every file with its content, mode 0644, folders 0755', async () => {
    const inspection = await extractBundle(BUNDLE, await sampleModuleZip(), dest, LIMITS);
    expect(inspection.entryCount).toBe(SAMPLE_MODULE_FILES.length);
    expect(tree(dest)).toEqual([...SAMPLE_MODULE_FILES.map((f) => f.name), 'modules/', 'modules/agent/'].sort());
    for (const file of SAMPLE_MODULE_FILES) {
      const target = path.join(dest, file.name);
      expect(fs.readFileSync(target, 'utf-8')).toBe(file.content);
      const stat = fs.lstatSync(target);
      expect(stat.isFile()).toBe(true);
      expect(stat.mode & 0o7777).toBe(0o644);
    }
    for (const dir of ['modules', 'modules/agent']) {
      const stat = fs.lstatSync(path.join(dest, dir));
      expect(stat.isDirectory()).toBe(true);
      expect(stat.mode & 0o7777).toBe(0o755);
    }
  });

  test('explicit directory entries are created; executable and setuid modes are not kept', async () => {
    const zip = await sampleModuleZip([
      { name: 'modules/empty/', directory: true },
      { name: 'modules/agent/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o104755 },
    ]);
    await extractBundle(BUNDLE, zip, dest, LIMITS);
    expect(fs.lstatSync(path.join(dest, 'modules/empty')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(dest, 'modules/empty'))).toEqual([]);
    expect(fs.lstatSync(path.join(dest, 'modules/agent/run.sh')).mode & 0o7777).toBe(0o644);
  });

  test('binary content is written byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    await extractBundle(BUNDLE, await sampleModuleZip([{ name: 'files/blob.bin', content: bytes }]), dest, LIMITS);
    expect(fs.readFileSync(path.join(dest, 'files/blob.bin')).equals(bytes)).toBe(true);
  });

  test('refuses a "../" entry and writes nothing, inside or outside the folder', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'xx/evil.tf', content: 'resource "x" "y" {}' }]), 'xx/evil.tf', '../evil.tf');
    await refusal(zip);
    expect(fs.existsSync(path.join(dest, '..', 'evil.tf'))).toBe(false);
    expect(tree(tmp).filter((p) => p.includes('evil'))).toEqual([]);
    expect(tree(dest)).toEqual([]);
  });

  test('refuses a deeper "../../" entry', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'modules/xxxxx/evil.tf', content: 'x' }]), 'modules/xxxxx/evil.tf', 'modules/../../evil.tf');
    await refusal(zip);
    expect(fs.existsSync(path.join(tmp, 'work', 'evil.tf'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'evil.tf'))).toBe(false);
    expect(tree(dest)).toEqual([]);
  });

  test('refuses a symbolic link and creates no link', async () => {
    fs.writeFileSync(path.join(tmp, 'outside.txt'), 'outside');
    const zip = await sampleModuleZip([{ name: 'modules/agent/creds', content: '../../../outside.txt', mode: 0o120777 }]);
    const err = await refusal(zip);
    expect(err.message).toMatch(/symbolic link/);
    expect(fs.existsSync(path.join(dest, 'modules/agent/creds'))).toBe(false);
    expect(tree(dest)).toEqual([]);
    expect(fs.readFileSync(path.join(tmp, 'outside.txt'), 'utf-8')).toBe('outside');
  });

  test('refuses a duplicate name and writes nothing', async () => {
    const zip = await buildZip([...SAMPLE_MODULE_FILES, { name: 'main.tf', content: 'resource "null_resource" "evil" {}\n' }]);
    const err = await refusal(zip);
    expect(err.message).toMatch(/more than once/);
    expect(tree(dest)).toEqual([]);
  });

  test('refuses an incomplete module before writing anything', async () => {
    const zip = await buildZip(SAMPLE_MODULE_FILES.filter((f) => f.name !== 'variables.tf'));
    await refusal(zip);
    expect(tree(dest)).toEqual([]);
  });

  test('never overwrites a file already in the folder', async () => {
    fs.mkdirSync(dest, { recursive: true });
    fs.writeFileSync(path.join(dest, 'main.tf'), 'operator edit\n');
    const err = await refusal(await sampleModuleZip());
    expect(err.message).toMatch(/EEXIST/);
    expect(fs.readFileSync(path.join(dest, 'main.tf'), 'utf-8')).toBe('operator edit\n');
  });
});
