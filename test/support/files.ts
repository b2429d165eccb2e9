import * as fs from 'node:fs';
import * as path from 'node:path';

/** Every file under `dir`, as `/`-separated paths relative to it (what a dump or a state folder holds). */
export async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.promises.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, name)));
    else out.push(name);
  }
  return out;
}
