import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { BundleContent, BundleContentMeter, BundleInspection, BundleLimits, ZipEntryInfo, inspectBundleEntries } from '../domain/bundle';
import { BundleError } from '../domain/errors';

const UNIX_HOST = 3;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/** The messages yauzl's validateFileName produces; everything else it reports means a damaged archive. */
const UNSAFE_NAME_ERROR = /^(absolute path|invalid relative path|invalid characters in fileName): /;

const OPTIONS: yauzl.Options = { lazyEntries: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: false };

/**
 * Lists the bundle's entries from its central directory without decompressing anything.
 * With strictFileNames false yauzl turns "\" into "/" before checking names, the same way it will when unpacking.
 */
export async function readZipEntries(bundleName: string, zip: Buffer): Promise<ZipEntryInfo[]> {
  const zipfile = await open(bundleName, zip);
  try {
    return await collectEntries(bundleName, zipfile);
  } finally {
    // fromBuffer forces autoClose off, so closing is ours to do on every path.
    zipfile.close();
  }
}

/**
 * Proves the bundle safe and complete, and fingerprints it so later steps can tell it was not swapped: the
 * central directory first, then every entry inflated and counted (meterBundleContent), so that a bundle whose
 * central directory lies about its sizes is refused here and not only when the Plan build unpacks it.
 */
export async function inspectBundle(
  bundleName: string,
  zip: Buffer,
  limits: BundleLimits,
): Promise<BundleInspection & { sha256: string; sizeBytes: number }> {
  const entries = await readZipEntries(bundleName, zip);
  const inspection = inspectBundleEntries(bundleName, entries, limits);
  await meterBundleContent(bundleName, zip, limits);
  return { ...inspection, sha256: createHash('sha256').update(zip).digest('hex'), sizeBytes: zip.length };
}

/**
 * Inflates every file entry and counts what really comes out (domain/bundle.ts BundleContentMeter), one entry at
 * a time, keeping none of it: memory stays at the zip plus zlib's window and one chunk. The first chunk past a
 * limit or past the entry's declared size stops inflating. Directory entries are counted, not inflated: the
 * unpacker writes no content for them.
 */
export async function meterBundleContent(bundleName: string, zip: Buffer, limits: BundleLimits): Promise<BundleContent> {
  const meter = new BundleContentMeter(bundleName, limits);
  // yauzl's own size check would stop at the same chunk with a message naming no entry; the meter names it.
  const zipfile = await open(bundleName, zip, { validateEntrySizes: false });
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (err: unknown) => reject(err instanceof BundleError ? err : translate(bundleName, err as Error));
      zipfile.on('error', fail);
      zipfile.on('end', () => resolve());
      zipfile.on('entry', (entry: yauzl.Entry) => {
        try {
          meter.startEntry({ name: entry.fileName, uncompressedSize: entry.uncompressedSize });
          if (entry.fileName.endsWith('/')) {
            meter.endEntry();
            zipfile.readEntry();
            return;
          }
        } catch (err) {
          return fail(err);
        }
        zipfile.openReadStream(entry, (err, stream) => {
          if (err) return fail(err);
          stream.on('data', (chunk: Buffer) => {
            try {
              meter.addBytes(chunk.length);
            } catch (e) {
              // Stops the inflation at this chunk; nothing more of the entry is read.
              stream.destroy();
              fail(e);
            }
          });
          stream.on('error', fail);
          stream.on('end', () => {
            try {
              meter.endEntry();
              zipfile.readEntry();
            } catch (e) {
              fail(e);
            }
          });
        });
      });
      zipfile.readEntry();
    });
  } finally {
    zipfile.close();
  }
  return meter.result();
}

/**
 * The HOWTO's `unzip gateway-<version>.zip -d gateway`, done safely: the same checks as Preflight first, then
 * every entry written below the folder with plain file modes, its size held to what the zip declared.
 */
export async function extractBundle(bundleName: string, zip: Buffer, destDir: string, limits: BundleLimits): Promise<BundleInspection> {
  const inspection = inspectBundleEntries(bundleName, await readZipEntries(bundleName, zip), limits);
  const root = path.resolve(destDir);
  await fs.promises.mkdir(root, { recursive: true });
  const zipfile = await open(bundleName, zip);
  try {
    await new Promise<void>((resolve, reject) => {
      zipfile.on('error', (err: Error) => reject(translate(bundleName, err)));
      zipfile.on('end', () => resolve());
      zipfile.on('entry', (entry: yauzl.Entry) => {
        const target = path.resolve(root, entry.fileName);
        // Already refused by the entry checks; kept here because writing outside the folder must never happen.
        if (target !== root && !target.startsWith(root + path.sep)) {
          reject(new BundleError(`${bundleName}: entry ${JSON.stringify(entry.fileName)} escapes the module folder`));
          return;
        }
        writeEntry(zipfile, entry, target).then(() => zipfile.readEntry(), (err: Error) => reject(translate(bundleName, err)));
      });
      zipfile.readEntry();
    });
  } finally {
    zipfile.close();
  }
  return inspection;
}

/**
 * One entry of a zip held in memory, or null when the zip has none of that name. Used for the dependency lock file
 * inside a saved Terraform plan: Apply installs providers against the checksums the approved plan carries.
 */
export async function readZipEntry(zipName: string, zip: Buffer, entryName: string): Promise<Buffer | null> {
  const zipfile = await open(zipName, zip);
  try {
    return await new Promise<Buffer | null>((resolve, reject) => {
      zipfile.on('error', (err: Error) => reject(translate(zipName, err)));
      zipfile.on('end', () => resolve(null));
      zipfile.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== entryName) {
          zipfile.readEntry();
          return;
        }
        zipfile.openReadStream(entry, (err, stream) => {
          if (err) return reject(translate(zipName, err));
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('error', (e: Error) => reject(translate(zipName, e)));
          stream.on('end', () => resolve(Buffer.concat(chunks)));
        });
      });
      zipfile.readEntry();
    });
  } finally {
    zipfile.close();
  }
}

async function writeEntry(zipfile: yauzl.ZipFile, entry: yauzl.Entry, target: string): Promise<void> {
  if (entry.fileName.endsWith('/')) {
    await fs.promises.mkdir(target, { recursive: true, mode: 0o755 });
    return;
  }
  await fs.promises.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
  const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zipfile.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
  );
  // flag "wx": never overwrite, so a duplicate name cannot replace a file that was already written.
  await pipeline(stream, fs.createWriteStream(target, { mode: 0o644, flags: 'wx' }));
}

function open(bundleName: string, zip: Buffer, options: yauzl.Options = {}): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { ...OPTIONS, ...options }, (err, zipfile) => {
      if (err) reject(new BundleError(`${bundleName} is not a valid zip archive (${err.message})`));
      else resolve(zipfile);
    });
  });
}

function collectEntries(bundleName: string, zipfile: yauzl.ZipFile): Promise<ZipEntryInfo[]> {
  return new Promise((resolve, reject) => {
    const entries: ZipEntryInfo[] = [];
    zipfile.on('error', (err: Error) => reject(translate(bundleName, err)));
    zipfile.on('end', () => resolve(entries));
    zipfile.on('entry', (entry: yauzl.Entry) => {
      const isDirectory = entry.fileName.endsWith('/');
      // The unpacker could not read such an entry, so the bundle would fail halfway through unpacking.
      if (!isDirectory && !entry.canDecodeFileData()) {
        const why = entry.isEncrypted() ? 'is encrypted' : `uses unsupported compression method ${entry.compressionMethod}`;
        reject(new BundleError(`${bundleName}: entry ${JSON.stringify(entry.fileName)} ${why}; the bundle must be a plain zip`));
        return;
      }
      entries.push({
        name: entry.fileName,
        uncompressedSize: entry.uncompressedSize,
        compressedSize: entry.compressedSize,
        isDirectory,
        isSymlink: entry.versionMadeBy >> 8 === UNIX_HOST && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK,
      });
      zipfile.readEntry();
    });
    zipfile.readEntry();
  });
}

function translate(bundleName: string, err: Error): BundleError {
  if (UNSAFE_NAME_ERROR.test(err.message)) return new BundleError(`${bundleName}: unsafe entry: ${err.message}`);
  return new BundleError(`${bundleName} is not a valid zip archive (${err.message})`);
}
