import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildStepSource } from '../../lib/step-source';

/**
 * What the integration tests' global setup prepares once for the whole jest run, so that each test file (a fresh
 * module registry in its worker) does not redo seconds of the same work: the bundled step helpers, and a folder
 * where synthesized templates are shared between the files that synthesize the same config. Both live only as
 * long as the run (global teardown removes them), so sources cannot change under them. Outside jest (the CLI's
 * rehearsal, the bench) the variables are unset and everything is built in the process.
 */
export const STEP_SOURCE_ENV = 'GATEWAY_TEST_STEP_SOURCE';
export const SYNTH_CACHE_ENV = 'GATEWAY_TEST_SYNTH_CACHE';

/** The CodeBuild source (lib/step-source.ts) in `dir`: copied from the run's prebuilt one, else built. */
export function stepSourceInto(dir: string): void {
  const prebuilt = process.env[STEP_SOURCE_ENV];
  if (prebuilt && fs.existsSync(path.join(prebuilt, 'terraform-step.js'))) fs.cpSync(prebuilt, dir, { recursive: true });
  else buildStepSource(dir);
}

/** A template synthesized for `key` earlier in this jest run (by any worker), or `make()`'s, shared from now on. */
export function sharedSynth<T>(key: string, make: () => T): T {
  const dir = process.env[SYNTH_CACHE_ENV];
  if (!dir) return make();
  const file = path.join(dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf-8')) as T;
  const made = make();
  // Written whole, then renamed: a worker reading at the same time sees the old absence or the complete file.
  const partial = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(partial, JSON.stringify(made));
  fs.renameSync(partial, file);
  return made;
}

const checkedHere = new Set<string>();

/**
 * Runs `check` for `text` unless it passed already in this jest run (any worker) or this process, and remembers
 * that it passed. A check that throws is not remembered, so it fails again wherever the same text comes up.
 */
export function checkOnce(kind: string, text: string, check: () => void): void {
  const key = `${kind}-${createHash('sha256').update(text).digest('hex')}`;
  const dir = process.env[SYNTH_CACHE_ENV];
  const marker = dir ? path.join(dir, `${key}.checked`) : undefined;
  if (checkedHere.has(key) || (marker && fs.existsSync(marker))) return;
  check();
  checkedHere.add(key);
  if (marker) fs.writeFileSync(marker, '');
}
