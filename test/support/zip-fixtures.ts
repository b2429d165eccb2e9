import * as fs from 'node:fs';
import * as path from 'node:path';
import yazl from 'yazl';

/** Builds zips in memory, so tests exercise the real reader without fixture files in the repository. */

export interface ZipFixtureFile {
  name: string;
  content?: string | Buffer;
  /** Unix mode, e.g. 0o120777 for a symbolic link whose content is the link target. */
  mode?: number;
  directory?: boolean;
}

/** A fixed timestamp makes the same files always produce the same bytes, hence the same sha256. */
const MTIME = new Date('2025-01-01T00:00:00Z');

export function buildZip(files: ZipFixtureFile[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const file of files) {
    const options = file.mode === undefined ? { mtime: MTIME } : { mtime: MTIME, mode: file.mode };
    if (file.directory) zip.addEmptyDirectory(file.name, options);
    else zip.addBuffer(Buffer.from(file.content ?? ''), file.name, options);
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** The root files that the vendor HOWTO's `ls gateway/` shows, plus one submodule. */
export const SAMPLE_MODULE_FILES: ZipFixtureFile[] = [
  { name: 'CHANGELOG.md', content: '# Changelog\n\n## 0.8.1\n\n- Fix node pool taints.\n' },
  { name: 'README.md', content: '# Compute Gateway\n\n## Inputs\n\n| name | description |\n|------|-------------|\n| name | Gateway name |\n' },
  { name: 'main.tf', content: 'module "agent" {\n  source = "./modules/agent"\n  name   = var.name\n}\n' },
  { name: 'variables.tf', content: 'variable "name" {\n  type = string\n}\n' },
  { name: 'versions.tf', content: 'terraform {\n  required_version = ">= 1.5"\n}\n' },
  { name: 'outputs.tf', content: 'output "name" {\n  value = var.name\n}\n' },
  { name: 'providers.tf', content: 'provider "aws" {}\n' },
  { name: 'modules/agent/main.tf', content: 'variable "name" {\n  type = string\n}\n' },
];

export function sampleModuleZip(extra: ZipFixtureFile[] = []): Promise<Buffer> {
  return buildZip([...SAMPLE_MODULE_FILES, ...extra]);
}

/**
 * Rewrites an entry name in place, in the local header and the central directory alike. yazl refuses names
 * such as "../evil.tf", so tests zip "xx/evil.tf" and rename it byte for byte. Every occurrence is replaced,
 * so pick a name that does not also appear in file contents.
 */
export function renameEntry(zip: Buffer, from: string, to: string): Buffer {
  const fromBytes = Buffer.from(from);
  const toBytes = Buffer.from(to);
  if (fromBytes.length !== toBytes.length) {
    throw new Error(`renameEntry: "${from}" and "${to}" differ in byte length (${fromBytes.length} != ${toBytes.length})`);
  }
  const out = Buffer.from(zip);
  let found = 0;
  for (let at = out.indexOf(fromBytes); at >= 0; at = out.indexOf(fromBytes, at + fromBytes.length)) {
    toBytes.copy(out, at);
    found++;
  }
  if (found === 0) throw new Error(`renameEntry: "${from}" does not occur in the zip`);
  return out;
}

/**
 * Makes the zip declare another uncompressed size for one entry, in its central directory record and in its local
 * header, leaving its data as it is: how a zip bomb hides its size from checks that read the central directory.
 * (yazl writes no zip64 records for small zips, so the 32-bit fields are the only ones.)
 */
export function forgeDeclaredSize(zip: Buffer, entryName: string, uncompressedSize: number): Buffer {
  const out = Buffer.from(zip);
  const eocd = out.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('forgeDeclaredSize: no end of central directory record');
  let at = out.readUInt32LE(eocd + 16);
  for (let i = 0; i < out.readUInt16LE(eocd + 10); i++) {
    if (out.readUInt32LE(at) !== 0x02014b50) throw new Error(`forgeDeclaredSize: no central directory record at ${at}`);
    const nameLength = out.readUInt16LE(at + 28);
    if (out.toString('utf-8', at + 46, at + 46 + nameLength) === entryName) {
      out.writeUInt32LE(uncompressedSize, at + 24);
      const local = out.readUInt32LE(at + 42);
      // Bit 3: the sizes are in a data descriptor after the data, and the local header holds zeros.
      if ((out.readUInt16LE(local + 6) & 0x8) === 0) out.writeUInt32LE(uncompressedSize, local + 22);
      return out;
    }
    at += 46 + nameLength + out.readUInt16LE(at + 30) + out.readUInt16LE(at + 32);
  }
  throw new Error(`forgeDeclaredSize: no entry "${entryName}" in the zip`);
}

/** Zips a folder of the repository (such as the sample gateway module) the way the vendor ships it. */
export async function zipDirectory(dir: string): Promise<Buffer> {
  const files: ZipFixtureFile[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(name);
      else files.push({ name, content: fs.readFileSync(path.join(dir, name)) });
    }
  };
  walk('');
  return buildZip(files);
}
