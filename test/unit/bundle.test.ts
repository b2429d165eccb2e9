import {
  BundleContentMeter,
  BundleLimits,
  MAX_COMPRESSION_RATIO,
  RATIO_CHECK_MIN_BYTES,
  REQUIRED_MODULE_FILES,
  ZipEntryInfo,
  inspectBundleEntries,
} from '../../lambdas/shared/domain/bundle';
import { BundleError } from '../../lambdas/shared/domain/errors';

const BUNDLE = 'gateway-0.8.1.zip';
const LIMITS: BundleLimits = { maxEntries: 100, maxUncompressedBytes: 10 * 1024 * 1024 };

function file(name: string, uncompressedSize = 100, compressedSize = 50): ZipEntryInfo {
  return { name, uncompressedSize, compressedSize, isDirectory: false, isSymlink: false };
}

function dir(name: string): ZipEntryInfo {
  return { name, uncompressedSize: 0, compressedSize: 0, isDirectory: true, isSymlink: false };
}

/** The layout of the seed HOWTO's `ls gateway/`. */
function moduleEntries(): ZipEntryInfo[] {
  return [
    file('CHANGELOG.md'),
    file('README.md'),
    file('main.tf'),
    file('variables.tf'),
    file('versions.tf'),
    file('outputs.tf'),
    file('providers.tf'),
    dir('modules/'),
    dir('modules/agent/'),
    file('modules/agent/main.tf'),
  ];
}

function inspect(entries: ZipEntryInfo[], limits: BundleLimits = LIMITS) {
  return inspectBundleEntries(BUNDLE, entries, limits);
}

function errorOf(entries: ZipEntryInfo[], limits: BundleLimits = LIMITS): BundleError {
  try {
    inspect(entries, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(BundleError);
    expect((err as Error).message.startsWith(`${BUNDLE}: `)).toBe(true);
    return err as BundleError;
  }
  throw new Error('expected inspectBundleEntries to throw');
}

describe('inspectBundleEntries', () => {
  describe('GIVEN the vendor module layout', () => {
    it('returns the entry count, the uncompressed total and the sorted top-level names', () => {
      expect(inspect(moduleEntries())).toEqual({
        entryCount: 10,
        uncompressedBytes: 800,
        files: ['CHANGELOG.md', 'README.md', 'main.tf', 'modules/', 'outputs.tf', 'providers.tf', 'variables.tf', 'versions.tf'],
      });
    });

    it('lists a folder once even without its own directory entry', () => {
      const entries = moduleEntries().filter((e) => !e.isDirectory);
      expect(inspect(entries).files.filter((f) => f === 'modules/')).toEqual(['modules/']);
    });

    it('lists an empty top-level folder with a trailing slash', () => {
      expect(inspect([...moduleEntries(), dir('docs/')]).files).toContain('docs/');
    });

    it('needs only the four required files', () => {
      expect(inspect(REQUIRED_MODULE_FILES.map((name) => file(name))).files).toEqual([...REQUIRED_MODULE_FILES].sort());
    });

    it('throws a BundleError, whose name Step Functions reports as the error', () => {
      const err = errorOf([]);
      expect(err.name).toBe('BundleError');
      expect(err.retryable).toBe(false);
    });
  });

  describe('entry names', () => {
    it.each([
      ['../evil.tf', /entry "\.\.\/evil\.tf" escapes the module folder \(contains "\.\."\)/],
      ['modules/../../evil.tf', /entry "modules\/\.\.\/\.\.\/evil\.tf" escapes the module folder/],
      ['modules/..', /entry "modules\/\.\." escapes the module folder/],
      ['/etc/passwd', /entry "\/etc\/passwd" is an absolute path/],
      ['C:/Windows/evil.tf', /entry "C:\/Windows\/evil\.tf" is an absolute path/],
      ['c:evil.tf', /entry "c:evil\.tf" is an absolute path/],
      ['\\\\server\\share\\evil.tf', /entry "\\\\\\\\server.*" is an absolute path/],
      ['modules\\agent\\main.tf', /entry "modules\\\\agent\\\\main\.tf" contains a backslash/],
      ['main\u0000.tf', /entry "main\\u0000\.tf" contains a NUL or control character/],
      ['main\u0001.tf', /entry "main\\u0001\.tf" contains a NUL or control character/],
      ['main\n.tf', /entry "main\\n\.tf" contains a NUL or control character/],
      ['main\u007f.tf', /entry "main\\u007f\.tf" contains a NUL or control character/],
      ['main\u0085.tf', /entry "main\\u0085\.tf" contains a NUL or control character/],
      ['./main.tf', /entry "\.\/main\.tf" is not a normalized path/],
      ['modules//main.tf', /entry "modules\/\/main\.tf" is not a normalized path/],
      ['', /entry "" has an empty name/],
    ])('refuses %j', (name, message) => {
      expect(() => inspect([...moduleEntries(), file(name)])).toThrow(message);
      expect(() => inspect([...moduleEntries(), file(name)])).toThrow(BundleError);
    });

    it.each([
      ['/', /entry "\/" is an absolute path/],
      ['../', /entry "\.\.\/" escapes the module folder/],
      ['/etc/', /entry "\/etc\/" is an absolute path/],
    ])('refuses the directory entry %j', (name, message) => {
      expect(() => inspect([...moduleEntries(), dir(name)])).toThrow(message);
    });

    it.each([['..terraform.tf'], ['modules/a..b/main.tf'], ['.terraform.lock.hcl'], ['modules/agent/README ü.md']])(
      'accepts the harmless name %j',
      (name) => {
        expect(inspect([...moduleEntries(), file(name)]).entryCount).toBe(11);
      },
    );

    it('names the bundle first, so the Step Functions cause reads on its own', () => {
      expect(() => inspect([file('../evil.tf')])).toThrow(/^gateway-0\.8\.1\.zip: entry "\.\.\/evil\.tf"/);
    });
  });

  describe('entry types', () => {
    it('refuses a symbolic link', () => {
      const link = { ...file('modules/agent/link.tf'), isSymlink: true };
      expect(() => inspect([...moduleEntries(), link])).toThrow(/entry "modules\/agent\/link\.tf" is a symbolic link/);
    });

    it('refuses a symbolic link even when it is flagged as a directory', () => {
      const link = { ...dir('modules/link/'), isSymlink: true };
      expect(() => inspect([...moduleEntries(), link])).toThrow(/entry "modules\/link\/" is a symbolic link/);
    });
  });

  describe('duplicates', () => {
    it('refuses a file that appears twice, naming both entries', () => {
      expect(() => inspect([...moduleEntries(), file('main.tf')])).toThrow(/entry "main\.tf" appears more than once \(first as "main\.tf"\)/);
    });

    it('refuses a directory entry that appears twice', () => {
      expect(() => inspect([...moduleEntries(), dir('modules/')])).toThrow(/entry "modules\/" appears more than once/);
    });

    it('refuses a file and a folder with the same name', () => {
      expect(() => inspect([...moduleEntries(), file('modules')])).toThrow(/entry "modules" appears more than once \(first as "modules\/"\)/);
    });

    it('refuses an entry below a path that is also a file', () => {
      const entries = [...REQUIRED_MODULE_FILES.map((n) => file(n)), file('docs'), file('docs/index.md')];
      expect(() => inspect(entries)).toThrow(/entry "docs\/index\.md" is inside "docs", which is also a file/);
    });

    it('accepts names that differ only in case, as Linux does', () => {
      expect(inspect([...moduleEntries(), file('Main.tf')]).entryCount).toBe(11);
    });
  });

  describe('entry count', () => {
    it('refuses an empty archive', () => {
      expect(() => inspect([])).toThrow(/gateway-0\.8\.1\.zip: the archive is empty/);
    });

    it('accepts exactly maxEntries entries', () => {
      expect(inspect(moduleEntries(), { ...LIMITS, maxEntries: 10 }).entryCount).toBe(10);
    });

    it('refuses maxEntries + 1 entries, naming the limit setting and the first entry past it', () => {
      expect(() => inspect(moduleEntries(), { ...LIMITS, maxEntries: 9 })).toThrow(
        /has 10 entries, over the limit of 9 \(bundle\.maxEntries\); entry "modules\/agent\/main\.tf" is the first one past it/,
      );
    });

    it('checks the count before the names, so a huge hostile listing is not walked', () => {
      const entries = [...moduleEntries(), file('../evil.tf')];
      expect(() => inspect(entries, { ...LIMITS, maxEntries: 3 })).toThrow(/over the limit of 3/);
    });
  });

  describe('uncompressed size', () => {
    const total = moduleEntries().reduce((sum, e) => sum + e.uncompressedSize, 0);

    it('accepts exactly maxUncompressedBytes', () => {
      expect(inspect(moduleEntries(), { ...LIMITS, maxUncompressedBytes: total }).uncompressedBytes).toBe(total);
    });

    it('refuses one byte more, naming the setting and the largest entry', () => {
      const entries = [...moduleEntries(), file('modules/agent/big.bin', 5_000, 4_000)];
      expect(() => inspect(entries, { ...LIMITS, maxUncompressedBytes: total + 4_999 })).toThrow(
        new RegExp(
          `unpacks to ${total + 5_000} bytes, over the limit of ${total + 4_999} \\(bundle\\.maxUncompressedBytes\\); ` +
            `the largest entry is "modules/agent/big\\.bin" with 5000 bytes`,
        ),
      );
    });
  });

  describe('compression ratio', () => {
    const big = RATIO_CHECK_MIN_BYTES + 1;

    it('accepts a large entry at exactly the ratio limit', () => {
      const entry = file('modules/agent/data.bin', MAX_COMPRESSION_RATIO * 10_000, 10_000);
      expect(inspect([...moduleEntries(), entry]).entryCount).toBe(11);
    });

    it('refuses a large entry just above the ratio limit', () => {
      const entry = file('modules/agent/data.bin', MAX_COMPRESSION_RATIO * 10_000 + 1, 10_000);
      expect(() => inspect([...moduleEntries(), entry])).toThrow(
        new RegExp(`entry "modules/agent/data\\.bin" expands 200x \\(10000 to 2000001 bytes\\), over the compression ratio limit of ${MAX_COMPRESSION_RATIO}; refusing a possible zip bomb`),
      );
    });

    it('refuses a large entry that claims a compressed size of zero', () => {
      expect(() => inspect([...moduleEntries(), file('zero.bin', big, 0)])).toThrow(/entry "zero\.bin" expands infinitely/);
    });

    it('lets a small, highly compressible text file pass', () => {
      const readme = file('modules/agent/README.md', RATIO_CHECK_MIN_BYTES, 1);
      expect(inspect([...moduleEntries(), readme]).entryCount).toBe(11);
    });
  });

  describe('required module files', () => {
    it.each(REQUIRED_MODULE_FILES.map((name) => [name]))('refuses a bundle without %s at its root', (missing) => {
      const entries = moduleEntries().filter((e) => e.name !== missing);
      expect(() => inspect(entries)).toThrow(
        new RegExp(`^gateway-0\\.8\\.1\\.zip: required module files missing at the archive root: ${missing.replace('.', '\\.')}$`),
      );
    });

    it('reports every missing file in one message', () => {
      const entries = moduleEntries().filter((e) => e.name !== 'main.tf' && e.name !== 'outputs.tf');
      expect(() => inspect(entries)).toThrow(/missing at the archive root: main\.tf, outputs\.tf$/);
    });

    it('does not count a required file that is only inside a submodule', () => {
      const entries = moduleEntries().filter((e) => e.name !== 'main.tf');
      expect(entries.some((e) => e.name === 'modules/agent/main.tf')).toBe(true);
      expect(() => inspect(entries)).toThrow(/missing at the archive root: main\.tf$/);
    });

    it('does not count a directory entry named like a required file', () => {
      const entries = [...moduleEntries().filter((e) => e.name !== 'main.tf'), dir('main.tf/')];
      expect(() => inspect(entries)).toThrow(/missing at the archive root: main\.tf$/);
    });

    it('GIVEN the folder was zipped instead of its contents THEN says so', () => {
      const nested = moduleEntries().map((e) => ({ ...e, name: `gateway/${e.name}` }));
      expect(() => inspect([dir('gateway/'), ...nested])).toThrow(
        'gateway-0.8.1.zip: required module files missing at the archive root: main.tf, variables.tf, versions.tf, outputs.tf; ' +
          'the files are inside "gateway/"; zip the folder\'s contents, not the folder',
      );
    });

    it('gives no folder hint when the files are spread over several folders', () => {
      const entries = [file('a/main.tf'), file('a/variables.tf'), file('b/versions.tf'), file('b/outputs.tf')];
      const err = errorOf(entries);
      expect(err.message).toMatch(/missing at the archive root: main\.tf, variables\.tf, versions\.tf, outputs\.tf$/);
      expect(err.message).not.toMatch(/inside/);
    });
  });
});

describe('BundleContentMeter: what inflating really yields', () => {
  /** Feeds entries as [name, declared size, chunk sizes]; returns the result, or the BundleError's message. */
  function meter(entries: Array<[string, number, number[]]>, limits: BundleLimits = LIMITS): { entryCount: number; uncompressedBytes: number } | string {
    const m = new BundleContentMeter(BUNDLE, limits);
    try {
      for (const [name, declared, chunks] of entries) {
        m.startEntry({ name, uncompressedSize: declared });
        for (const chunk of chunks) m.addBytes(chunk);
        m.endEntry();
      }
      return m.result();
    } catch (err) {
      expect(err).toBeInstanceOf(BundleError);
      return (err as Error).message;
    }
  }

  it('counts the entries (directories too) and the real bytes when every entry is as long as declared', () => {
    expect(meter([['main.tf', 100, [60, 40]], ['modules/', 0, []], ['modules/a.tf', 0, []]])).toEqual({ entryCount: 3, uncompressedBytes: 100 });
  });

  it('refuses the first chunk past the declared size, naming the entry and both sizes; later chunks are not taken', () => {
    expect(meter([['modules/agent/blob.bin', 1000, [600, 16_384, 16_384]]])).toBe(
      'gateway-0.8.1.zip: entry "modules/agent/blob.bin" unpacks to more than the 1000 bytes its central directory declares ' +
        '(at least 16984 when inflating stopped); refusing a bundle whose sizes lie, the way zip bombs hide',
    );
  });

  it('refuses an entry shorter than declared', () => {
    expect(meter([['main.tf', 6000, [5000]]])).toBe('gateway-0.8.1.zip: entry "main.tf" unpacks to 5000 bytes, but its central directory declares 6000; the archive is damaged or forged');
  });

  it('refuses the first chunk past maxUncompressedBytes, even with every declared size honest', () => {
    const limits = { ...LIMITS, maxUncompressedBytes: 1000 };
    expect(meter([['a.tf', 600, [600]], ['b.tf', 600, [300, 300]]], limits)).toBe(
      'gateway-0.8.1.zip: unpacks to more than 1000 bytes, the limit (bundle.maxUncompressedBytes): at least 1200 when inflating stopped in entry "b.tf"',
    );
    expect(meter([['a.tf', 600, [600]], ['b.tf', 400, [400]]], limits)).toEqual({ entryCount: 2, uncompressedBytes: 1000 });
  });

  it('refuses the entry past maxEntries as it starts, and accepts exactly maxEntries', () => {
    const limits = { ...LIMITS, maxEntries: 2 };
    expect(meter([['a.tf', 1, [1]], ['b.tf', 1, [1]]], limits)).toEqual({ entryCount: 2, uncompressedBytes: 2 });
    expect(meter([['a.tf', 1, [1]], ['b.tf', 1, [1]], ['c.tf', 1, [1]]], limits)).toBe(
      'gateway-0.8.1.zip: has more than 2 entries (bundle.maxEntries); entry "c.tf" is the first one past it',
    );
  });

  it('refuses to be fed out of order', () => {
    const m = new BundleContentMeter(BUNDLE, LIMITS);
    expect(() => m.addBytes(1)).toThrow(/inflated bytes outside any entry/);
    expect(() => m.endEntry()).toThrow(/ended that never started/);
    m.startEntry({ name: 'a.tf', uncompressedSize: 1 });
    expect(() => m.startEntry({ name: 'b.tf', uncompressedSize: 1 })).toThrow(/entry "b.tf" started before entry "a.tf" ended/);
  });
});
