import { BundleError } from './errors';

/**
 * Safety and completeness checks on the vendor's gateway-<version>.zip. First on its central directory alone
 * (inspectBundleEntries), so that nothing is inflated before the declared bundle is known to be harmless; then on
 * what inflating every entry really yields (BundleContentMeter), since the central directory is only the archive's
 * own word. The reader lives in adapters/zip-reader.ts.
 */

/** One central-directory record, as the zip reader reports it. */
export interface ZipEntryInfo {
  name: string;
  uncompressedSize: number;
  compressedSize: number;
  isDirectory: boolean;
  isSymlink: boolean;
}

export interface BundleLimits {
  maxEntries: number;
  maxUncompressedBytes: number;
}

export interface BundleInspection {
  entryCount: number;
  uncompressedBytes: number;
  /** Top-level names, folders with a trailing "/", sorted by code unit so the result is locale-independent. */
  files: string[];
}

/** Deflate reaches about 1000:1 only on degenerate data; real Terraform and docs stay far below 200:1. */
export const MAX_COMPRESSION_RATIO = 200;

/** Small text files (a README full of blank lines) can compress absurdly well and still be harmless. */
export const RATIO_CHECK_MIN_BYTES = 1024 * 1024;

/** What the vendor HOWTO's `ls gateway/` shows at the module root; Terraform cannot plan without them. */
export const REQUIRED_MODULE_FILES = ['main.tf', 'variables.tf', 'versions.tf', 'outputs.tf'] as const;

/** C0, DEL and C1: no file name needs them, and some terminals and unpackers act on them. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws a BundleError naming the first problem found; returns a summary when the bundle is safe and complete. */
export function inspectBundleEntries(bundleName: string, entries: ZipEntryInfo[], limits: BundleLimits): BundleInspection {
  const fail = (problem: string): never => {
    throw new BundleError(`${bundleName}: ${problem}`);
  };

  if (entries.length === 0) {
    fail('the archive is empty; expected the module files (main.tf, variables.tf, ...) at its root');
  }
  if (entries.length > limits.maxEntries) {
    fail(
      `has ${entries.length} entries, over the limit of ${limits.maxEntries} (bundle.maxEntries); ` +
        `entry ${show(entries[limits.maxEntries].name)} is the first one past it`,
    );
  }

  const paths = entries.map((entry) => {
    const problem = nameProblem(entry.name);
    if (problem) fail(`entry ${show(entry.name)} ${problem}`);
    if (entry.isSymlink) fail(`entry ${show(entry.name)} is a symbolic link; the bundle must contain regular files only`);
    return entry.name.endsWith('/') ? entry.name.slice(0, -1) : entry.name;
  });

  checkDuplicatesAndConflicts(entries, paths, fail);

  const uncompressedBytes = entries.reduce((sum, entry) => sum + entry.uncompressedSize, 0);
  if (uncompressedBytes > limits.maxUncompressedBytes) {
    const largest = entries.reduce((a, b) => (b.uncompressedSize > a.uncompressedSize ? b : a));
    fail(
      `unpacks to ${uncompressedBytes} bytes, over the limit of ${limits.maxUncompressedBytes} (bundle.maxUncompressedBytes); ` +
        `the largest entry is ${show(largest.name)} with ${largest.uncompressedSize} bytes`,
    );
  }

  for (const entry of entries) {
    // A zero compressed size with a large uncompressed one is an infinite ratio, which the product form catches.
    if (entry.uncompressedSize > RATIO_CHECK_MIN_BYTES && entry.uncompressedSize > entry.compressedSize * MAX_COMPRESSION_RATIO) {
      const ratio = entry.compressedSize === 0 ? 'infinitely' : `${Math.round(entry.uncompressedSize / entry.compressedSize)}x`;
      fail(
        `entry ${show(entry.name)} expands ${ratio} (${entry.compressedSize} to ${entry.uncompressedSize} bytes), ` +
          `over the compression ratio limit of ${MAX_COMPRESSION_RATIO}; refusing a possible zip bomb`,
      );
    }
  }

  checkRequiredFiles(paths, entries, fail);

  return { entryCount: entries.length, uncompressedBytes, files: topLevelNames(paths, entries) };
}

export interface BundleContent {
  /** Entries read, directories included. */
  entryCount: number;
  /** Bytes that inflating the file entries yielded. */
  uncompressedBytes: number;
}

/**
 * Counts what inflating the bundle really yields, chunk by chunk, against the limits and against each entry's
 * size in the central directory, and throws a BundleError at the first chunk that crosses one: the caller stops
 * inflating there, so no more than a limit plus one chunk is ever inflated. It holds counts, never content.
 *
 * A zip whose central directory understates an entry (small declared, large real) passes every check on the
 * central directory, ratio included, and would unpack to whatever its deflate stream holds; one that overstates
 * it is damaged. Both are refused by name, with both sizes.
 */
export class BundleContentMeter {
  private entries = 0;
  private total = 0;
  private current: { name: string; declared: number; real: number } | undefined;

  constructor(
    private readonly bundleName: string,
    private readonly limits: BundleLimits,
  ) {}

  /** An entry, as the central directory declares it, whose content follows. */
  startEntry(entry: Pick<ZipEntryInfo, 'name' | 'uncompressedSize'>): void {
    if (this.current) this.fail(`entry ${show(entry.name)} started before entry ${show(this.current.name)} ended`);
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      this.fail(`has more than ${this.limits.maxEntries} entries (bundle.maxEntries); entry ${show(entry.name)} is the first one past it`);
    }
    this.current = { name: entry.name, declared: entry.uncompressedSize, real: 0 };
  }

  /** One inflated chunk of the current entry. */
  addBytes(count: number): void {
    const entry = this.current ?? this.fail('inflated bytes outside any entry');
    entry.real += count;
    this.total += count;
    if (entry.real > entry.declared) {
      this.fail(
        `entry ${show(entry.name)} unpacks to more than the ${entry.declared} bytes its central directory declares ` +
          `(at least ${entry.real} when inflating stopped); refusing a bundle whose sizes lie, the way zip bombs hide`,
      );
    }
    if (this.total > this.limits.maxUncompressedBytes) {
      this.fail(
        `unpacks to more than ${this.limits.maxUncompressedBytes} bytes, the limit (bundle.maxUncompressedBytes): ` +
          `at least ${this.total} when inflating stopped in entry ${show(entry.name)}`,
      );
    }
  }

  /** The current entry's content ended: it must be exactly as long as declared. */
  endEntry(): void {
    const entry = this.current ?? this.fail('an entry ended that never started');
    this.current = undefined;
    if (entry.real !== entry.declared) {
      this.fail(`entry ${show(entry.name)} unpacks to ${entry.real} bytes, but its central directory declares ${entry.declared}; the archive is damaged or forged`);
    }
  }

  /** What was counted; call it once every entry has ended. */
  result(): BundleContent {
    if (this.current) this.fail(`entry ${show(this.current.name)} never ended`);
    return { entryCount: this.entries, uncompressedBytes: this.total };
  }

  private fail(problem: string): never {
    throw new BundleError(`${this.bundleName}: ${problem}`);
  }
}

/** Why a name could write outside the unpack folder or confuse the unpacker, or undefined when it is safe. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'has an empty name';
  if (CONTROL_CHARS.test(name)) return 'contains a NUL or control character';
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) {
    return 'is an absolute path; entries must be relative to the module folder';
  }
  if (name.includes('\\')) return 'contains a backslash; entries must use "/" as the path separator';
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (segments.includes('..')) return 'escapes the module folder (contains "..")';
  // "main.tf" and "./main.tf" would unpack to the same file yet pass the duplicate check.
  if (segments.some((s) => s === '' || s === '.')) return 'is not a normalized path (contains "//" or a "." segment)';
  return undefined;
}

/** Two entries that unpack to the same path make the result depend on the unpacker's order. */
function checkDuplicatesAndConflicts(entries: ZipEntryInfo[], paths: string[], fail: (problem: string) => never): void {
  const seen = new Map<string, number>();
  paths.forEach((path, i) => {
    const first = seen.get(path);
    if (first !== undefined) {
      fail(`entry ${show(entries[i].name)} appears more than once (first as ${show(entries[first].name)})`);
    }
    seen.set(path, i);
  });
  const files = new Set(paths.filter((_, i) => !entries[i].isDirectory));
  paths.forEach((path, i) => {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join('/');
      if (files.has(parent)) fail(`entry ${show(entries[i].name)} is inside ${show(parent)}, which is also a file`);
    }
  });
}

function checkRequiredFiles(paths: string[], entries: ZipEntryInfo[], fail: (problem: string) => never): void {
  const rootFiles = new Set(paths.filter((path, i) => !entries[i].isDirectory && !path.includes('/')));
  const missing = REQUIRED_MODULE_FILES.filter((file) => !rootFiles.has(file));
  if (missing.length === 0) return;

  let message = `required module files missing at the archive root: ${missing.join(', ')}`;
  // Zipping the folder instead of its contents is the usual mistake; say so rather than only "missing".
  const holders = new Set(
    paths
      .filter((path, i) => !entries[i].isDirectory && missing.some((file) => path.endsWith(`/${file}`)))
      .map((path) => path.split('/'))
      .filter((segments) => segments.length === 2)
      .map((segments) => `${segments[0]}/`),
  );
  if (holders.size === 1) {
    const [folder] = holders;
    message += `; the files are inside ${show(folder)}; zip the folder's contents, not the folder`;
  }
  fail(message);
}

function topLevelNames(paths: string[], entries: ZipEntryInfo[]): string[] {
  const names = new Set<string>();
  paths.forEach((path, i) => {
    const slash = path.indexOf('/');
    if (slash >= 0) names.add(path.slice(0, slash + 1));
    else names.add(entries[i].isDirectory ? `${path}/` : path);
  });
  return [...names].sort();
}

/** Quoted and escaped, so a control character in a name shows up as \u0001 instead of garbling the message. */
function show(name: string): string {
  // JSON.stringify escapes C0 only, so DEL and C1 are escaped here.
  return JSON.stringify(name).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
