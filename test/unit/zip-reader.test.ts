import { createHash, randomBytes } from 'node:crypto';
import { inspectBundle, meterBundleContent, readZipEntries } from '../../lambdas/shared/adapters/zip-reader';
import { BundleLimits, inspectBundleEntries } from '../../lambdas/shared/domain/bundle';
import { BundleError } from '../../lambdas/shared/domain/errors';
import { SAMPLE_MODULE_FILES, buildZip, forgeDeclaredSize, renameEntry, sampleModuleZip } from '../support/zip-fixtures';

const BUNDLE = 'gateway-0.8.1.zip';
const MiB = 1024 * 1024;
const LIMITS: BundleLimits = { maxEntries: 5_000, maxUncompressedBytes: 256 * MiB };

/** Runs the inspection and returns its BundleError, checking that the message names the bundle. */
async function bundleErrorOf(zip: Buffer, limits: BundleLimits = LIMITS): Promise<BundleError> {
  const err = await inspectBundle(BUNDLE, zip, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  expect((err as Error).message).toContain(BUNDLE);
  return err as BundleError;
}

/** Sets general-purpose flag bits in every central directory record, which yazl cannot produce itself. */
function setCentralDirectoryFlags(zip: Buffer, bits: number): Buffer {
  const out = Buffer.from(zip);
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let at = out.indexOf(signature); at >= 0; at = out.indexOf(signature, at + 4)) {
    out.writeUInt16LE(out.readUInt16LE(at + 8) | bits, at + 8);
  }
  return out;
}

describe('inspectBundle', () => {
  it('GIVEN the sample module WHEN inspected THEN passes and fingerprints the exact bytes', async () => {
    const zip = await sampleModuleZip();
    const result = await inspectBundle(BUNDLE, zip, LIMITS);
    expect(result).toEqual({
      entryCount: SAMPLE_MODULE_FILES.length,
      uncompressedBytes: SAMPLE_MODULE_FILES.reduce((sum, f) => sum + Buffer.byteLength(f.content ?? ''), 0),
      files: ['CHANGELOG.md', 'README.md', 'main.tf', 'modules/', 'outputs.tf', 'providers.tf', 'variables.tf', 'versions.tf'],
      sha256: createHash('sha256').update(zip).digest('hex'),
      sizeBytes: zip.length,
    });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts explicit directory entries', async () => {
    const zip = await sampleModuleZip([{ name: 'modules/', directory: true }, { name: 'modules/agent/', directory: true }]);
    expect((await inspectBundle(BUNDLE, zip, LIMITS)).entryCount).toBe(SAMPLE_MODULE_FILES.length + 2);
  });

  it('refuses an entry renamed to "../evil.tf", with yauzl\'s reason', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'xx/evil.tf', content: 'resource "x" "y" {}' }]), 'xx/evil.tf', '../evil.tf');
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe('gateway-0.8.1.zip: unsafe entry: invalid relative path: ../evil.tf');
  });

  it('refuses an absolute "/etc/x"', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: '_etc/x' }]), '_etc/x', '/etc/x');
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe('gateway-0.8.1.zip: unsafe entry: absolute path: /etc/x');
  });

  it('refuses a Windows drive path "C:/x.tf"', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'xx/x.tf' }]), 'xx/x.tf', 'C:/x.tf');
    expect((await bundleErrorOf(zip)).message).toBe('gateway-0.8.1.zip: unsafe entry: absolute path: C:/x.tf');
  });

  it('reads backslashes as "/" (yauzl strictFileNames: false), so "..\\evil.tf" still escapes', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'xxxevil.tf' }]), 'xxxevil.tf', '..\\evil.tf');
    expect((await bundleErrorOf(zip)).message).toBe('gateway-0.8.1.zip: unsafe entry: invalid relative path: ../evil.tf');
  });

  it('reads a Windows-style "modules\\agent\\x.tf" as the path the unpacker will write', async () => {
    const zip = renameEntry(await sampleModuleZip([{ name: 'modules/agent/x.tf' }]), 'modules/agent/x.tf', 'modules\\agent\\x.tf');
    expect((await readZipEntries(BUNDLE, zip)).map((e) => e.name)).toContain('modules/agent/x.tf');
  });

  it('refuses a symbolic link', async () => {
    const zip = await sampleModuleZip([{ name: 'modules/agent/creds', content: '/root/.aws/credentials', mode: 0o120777 }]);
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe(
      'gateway-0.8.1.zip: entry "modules/agent/creds" is a symbolic link; the bundle must contain regular files only',
    );
  });

  it('does not mistake an executable file for a symbolic link', async () => {
    const zip = await sampleModuleZip([{ name: 'modules/agent/run.sh', content: '#!/bin/sh\n', mode: 0o100755 }]);
    const entries = await readZipEntries(BUNDLE, zip);
    expect(entries.find((e) => e.name === 'modules/agent/run.sh')).toMatchObject({ isSymlink: false, isDirectory: false });
  });

  it('refuses a name with a control character', async () => {
    const zip = await sampleModuleZip([{ name: 'main\u0001.tf' }]);
    expect((await bundleErrorOf(zip)).message).toMatch(/entry "main\\u0001\.tf" contains a NUL or control character/);
  });

  it('refuses a plain text file', async () => {
    const err = await bundleErrorOf(Buffer.from('terraform {\n}\n'));
    expect(err.message).toMatch(/^gateway-0\.8\.1\.zip is not a valid zip archive \(End of central directory record signature not found/);
  });

  it('refuses an empty file', async () => {
    expect((await bundleErrorOf(Buffer.alloc(0))).message).toMatch(/^gateway-0\.8\.1\.zip is not a valid zip archive/);
  });

  it('refuses a truncated zip', async () => {
    const zip = await sampleModuleZip();
    const err = await bundleErrorOf(zip.subarray(0, Math.floor(zip.length / 2)));
    expect(err.message).toMatch(/^gateway-0\.8\.1\.zip is not a valid zip archive \(.*truncated/);
  });

  it('refuses a damaged central directory', async () => {
    const zip = await sampleModuleZip();
    const damaged = Buffer.from(zip);
    damaged.write('XX', damaged.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])), 'latin1');
    const err = await bundleErrorOf(damaged);
    expect(err.message).toMatch(/^gateway-0\.8\.1\.zip is not a valid zip archive \(invalid central directory file header signature/);
  });

  it('refuses encrypted entries, which nothing downstream could unpack', async () => {
    const zip = setCentralDirectoryFlags(await sampleModuleZip(), 0x1);
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe('gateway-0.8.1.zip: entry "CHANGELOG.md" is encrypted; the bundle must be a plain zip');
  });

  it('refuses an empty archive', async () => {
    expect((await bundleErrorOf(await buildZip([]))).message).toMatch(/^gateway-0\.8\.1\.zip: the archive is empty/);
  });

  it('refuses more than maxEntries entries, and accepts exactly maxEntries', async () => {
    const zip = await sampleModuleZip();
    const count = SAMPLE_MODULE_FILES.length;
    await expect(inspectBundle(BUNDLE, zip, { ...LIMITS, maxEntries: count })).resolves.toMatchObject({ entryCount: count });
    const err = await bundleErrorOf(zip, { ...LIMITS, maxEntries: count - 1 });
    expect(err.message).toBe(
      `gateway-0.8.1.zip: has ${count} entries, over the limit of ${count - 1} (bundle.maxEntries); ` +
        `entry "${SAMPLE_MODULE_FILES[count - 1].name}" is the first one past it`,
    );
  });

  describe('GIVEN 3 MiB of zeros, which deflate to a few KiB', () => {
    let zip: Buffer;
    beforeAll(async () => {
      zip = await sampleModuleZip([{ name: 'modules/agent/zeros.bin', content: Buffer.alloc(3 * MiB) }]);
    });

    it('reads the declared sizes without unpacking anything', async () => {
      const entry = (await readZipEntries(BUNDLE, zip)).find((e) => e.name === 'modules/agent/zeros.bin');
      expect(entry).toMatchObject({ uncompressedSize: 3 * MiB });
      expect(entry!.compressedSize).toBeLessThan(10_000);
    });

    it('refuses it over a 2 MiB uncompressed limit, naming the entry', async () => {
      const err = await bundleErrorOf(zip, { ...LIMITS, maxUncompressedBytes: 2 * MiB });
      expect(err.message).toMatch(
        /unpacks to \d+ bytes, over the limit of 2097152 \(bundle\.maxUncompressedBytes\); the largest entry is "modules\/agent\/zeros\.bin" with 3145728 bytes/,
      );
    });

    it('refuses it under a generous limit for its compression ratio', async () => {
      const err = await bundleErrorOf(zip);
      expect(err.message).toMatch(/entry "modules\/agent\/zeros\.bin" expands \d+x \(\d+ to 3145728 bytes\), over the compression ratio limit of 200/);
    });
  });

  it('accepts 3 MiB of incompressible data under a generous limit', async () => {
    const zip = await sampleModuleZip([{ name: 'modules/agent/random.bin', content: randomBytes(3 * MiB) }]);
    expect((await inspectBundle(BUNDLE, zip, LIMITS)).uncompressedBytes).toBeGreaterThan(3 * MiB);
  });

  it('refuses a bundle without main.tf', async () => {
    const zip = await buildZip(SAMPLE_MODULE_FILES.filter((f) => f.name !== 'main.tf'));
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe('gateway-0.8.1.zip: required module files missing at the archive root: main.tf');
  });

  it('GIVEN the operator zipped the gateway/ folder itself THEN says to zip its contents', async () => {
    const zip = await buildZip([
      { name: 'gateway/', directory: true },
      ...SAMPLE_MODULE_FILES.map((f) => ({ ...f, name: `gateway/${f.name}` })),
    ]);
    const err = await bundleErrorOf(zip);
    expect(err.message).toBe(
      'gateway-0.8.1.zip: required module files missing at the archive root: main.tf, variables.tf, versions.tf, outputs.tf; ' +
        'the files are inside "gateway/"; zip the folder\'s contents, not the folder',
    );
  });
});

describe('inspectBundle: every entry inflated and counted, not only the central directory read', () => {
  /** zlib hands out inflated data in chunks of this size (zlib.constants.Z_DEFAULT_CHUNK). */
  const CHUNK = 16 * 1024;
  const BLOB = 'modules/agent/blob.bin';

  describe('GIVEN 8 MiB of zeros whose central directory (and local header) declares 1000 bytes', () => {
    let bomb: Buffer;
    beforeAll(async () => {
      bomb = forgeDeclaredSize(await sampleModuleZip([{ name: BLOB, content: Buffer.alloc(8 * MiB) }]), BLOB, 1000);
    });

    it('passes every check on the central directory (what Preflight did before)', async () => {
      const entries = await readZipEntries(BUNDLE, bomb);
      expect(entries.find((e) => e.name === BLOB)).toMatchObject({ uncompressedSize: 1000 });
      expect(() => inspectBundleEntries(BUNDLE, entries, { ...LIMITS, maxUncompressedBytes: 4 * MiB })).not.toThrow();
    });

    it('is refused by name with both sizes, after inflating no more than one chunk past the declared size', async () => {
      const err = await bundleErrorOf(bomb, { ...LIMITS, maxUncompressedBytes: 4 * MiB });
      const [, atLeast] = /^gateway-0\.8\.1\.zip: entry "modules\/agent\/blob\.bin" unpacks to more than the 1000 bytes its central directory declares \(at least (\d+) when inflating stopped\)/.exec(err.message) ?? [];
      expect(Number(atLeast)).toBeGreaterThan(1000);
      expect(Number(atLeast)).toBeLessThanOrEqual(1000 + CHUNK);
    });
  });

  it('refuses an entry whose central directory overstates it', async () => {
    const zip = forgeDeclaredSize(await sampleModuleZip([{ name: BLOB, content: 'x'.repeat(5000) }]), BLOB, 6000);
    expect((await bundleErrorOf(zip)).message).toBe(`gateway-0.8.1.zip: entry "${BLOB}" unpacks to 5000 bytes, but its central directory declares 6000; the archive is damaged or forged`);
  });

  it('counts real bytes and entries (directories included) equal to the declared ones for an honest zip', async () => {
    const zip = await sampleModuleZip([{ name: 'modules/', directory: true }, { name: BLOB, content: randomBytes(300 * 1024) }]);
    const declared = await readZipEntries(BUNDLE, zip);
    expect(await meterBundleContent(BUNDLE, zip, LIMITS)).toEqual({
      entryCount: declared.length,
      uncompressedBytes: declared.reduce((sum, e) => sum + e.uncompressedSize, 0),
    });
  });

  it('stops at the first chunk past maxUncompressedBytes, even when every declared size is honest', async () => {
    const zip = await sampleModuleZip([{ name: BLOB, content: randomBytes(300 * 1024) }]);
    await expect(meterBundleContent(BUNDLE, zip, { ...LIMITS, maxUncompressedBytes: 100 * 1024 })).rejects.toThrow(
      /^gateway-0\.8\.1\.zip: unpacks to more than 102400 bytes, the limit \(bundle\.maxUncompressedBytes\): at least \d+ when inflating stopped in entry "modules\/agent\/blob\.bin"$/,
    );
  });
});

describe('renameEntry (fixture)', () => {
  it('refuses names of different byte lengths and names that are absent', async () => {
    const zip = await sampleModuleZip();
    expect(() => renameEntry(zip, 'main.tf', '../main.tf')).toThrow(/differ in byte length/);
    expect(() => renameEntry(zip, 'absent.tf', 'absent.tx')).toThrow(/does not occur/);
  });
});
