import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** checkOnce (test/support/build-cache.ts): a check that passed is skipped in later test files of the same run. */

const ENV = 'GATEWAY_TEST_SYNTH_CACHE';
let dir: string;
let saved: string | undefined;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'build-cache-test-'));
  saved = process.env[ENV];
  process.env[ENV] = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env[ENV];
  else process.env[ENV] = saved;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh copy of the module, as another test file (another module registry or worker) would load it. */
const freshModule = (): typeof import('../support/build-cache') => {
  let mod: typeof import('../support/build-cache') | undefined;
  jest.isolateModules(() => {
    mod = require('../support/build-cache');
  });
  return mod!;
};

test('a passed check runs once per run, also for another module registry; other texts and kinds are checked', () => {
  const check = jest.fn();
  freshModule().checkOnce('asl', 'definition', check);
  freshModule().checkOnce('asl', 'definition', check);
  expect(check).toHaveBeenCalledTimes(1);
  freshModule().checkOnce('asl', 'another definition', check);
  freshModule().checkOnce('other', 'definition', check);
  expect(check).toHaveBeenCalledTimes(3);
});

test('a check that throws is not remembered: it runs and fails again', () => {
  const failing = jest.fn(() => {
    throw new Error('invalid definition');
  });
  expect(() => freshModule().checkOnce('asl', 'bad', failing)).toThrow('invalid definition');
  expect(() => freshModule().checkOnce('asl', 'bad', failing)).toThrow('invalid definition');
  expect(failing).toHaveBeenCalledTimes(2);
});

test('outside a jest run that shares a folder, it still checks once per process', () => {
  delete process.env[ENV];
  const mod = freshModule();
  const check = jest.fn();
  mod.checkOnce('asl', 'definition', check);
  mod.checkOnce('asl', 'definition', check);
  expect(check).toHaveBeenCalledTimes(1);
  expect(fs.readdirSync(dir)).toEqual([]);
});
