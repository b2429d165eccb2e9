/**
 * The test-only code cache preload (test/support/node-code-cache.js): a big CommonJS file runs the same with it,
 * its first start stores V8's cache, later starts use it, and a cache that does not fit is replaced, not trusted.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const PRELOAD = path.join(__dirname, '..', 'support', 'node-code-cache.js');
let dir: string;
let cacheDir: string;
let script: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'code-cache-test-'));
  cacheDir = path.join(dir, 'cache');
  fs.mkdirSync(cacheDir);
  script = path.join(dir, 'big.js');
  // Over the preload's 100 kB threshold, with what a bundled helper uses: require, module, __dirname, require.main.
  const filler = Array.from({ length: 4000 }, (_, i) => `function f${i}(x) { return x + ${i}; }`).join('\n');
  fs.writeFileSync(
    script,
    `${filler}\nconst os = require('node:os');\nmodule.exports = { sum: f3999(1) };\n` +
      `if (require.main === module) console.log(JSON.stringify({ sum: module.exports.sum, main: true, dir: __dirname, eol: os.EOL.length }));\n`,
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = async (env: NodeJS.ProcessEnv) =>
  JSON.parse((await promisify(execFile)(process.execPath, ['--require', PRELOAD, script], { env: { ...process.env, ...env } })).stdout);
const cacheFiles = () => fs.readdirSync(cacheDir).filter((f) => f.endsWith('.v8'));

test('without GATEWAY_TEST_CODE_CACHE the file runs as usual and nothing is cached', async () => {
  expect(await run({ GATEWAY_TEST_CODE_CACHE: '' })).toEqual({ sum: 4000, main: true, dir, eol: 1 });
  expect(cacheFiles()).toEqual([]);
});

test('the first start stores the cache, a later start runs the same with it', async () => {
  expect(fs.statSync(script).size).toBeGreaterThan(100_000);
  expect(await run({ GATEWAY_TEST_CODE_CACHE: cacheDir })).toEqual({ sum: 4000, main: true, dir, eol: 1 });
  const [file] = cacheFiles();
  expect(cacheFiles()).toHaveLength(1);
  const stored = fs.readFileSync(path.join(cacheDir, file));
  expect(stored.length).toBeGreaterThan(0);
  expect(await run({ GATEWAY_TEST_CODE_CACHE: cacheDir })).toEqual({ sum: 4000, main: true, dir, eol: 1 });
  // Accepted, so not written again.
  expect(fs.readFileSync(path.join(cacheDir, file))).toEqual(stored);
});

test('a cache V8 rejects is replaced, and the file still runs', async () => {
  const [file] = cacheFiles();
  fs.writeFileSync(path.join(cacheDir, file), Buffer.from('not a V8 code cache'));
  expect(await run({ GATEWAY_TEST_CODE_CACHE: cacheDir })).toEqual({ sum: 4000, main: true, dir, eol: 1 });
  expect(fs.readFileSync(path.join(cacheDir, file)).toString()).not.toBe('not a V8 code cache');
});

test('a script that starts with #! is left to Node: it runs, and nothing is cached for it', async () => {
  const before = cacheFiles();
  const shebang = path.join(dir, 'shebang.js');
  fs.writeFileSync(shebang, `#!/usr/bin/env node\n${fs.readFileSync(script, 'utf-8')}`);
  const out = await promisify(execFile)(process.execPath, ['--require', PRELOAD, shebang], { env: { ...process.env, GATEWAY_TEST_CODE_CACHE: cacheDir } });
  expect(JSON.parse(out.stdout)).toEqual({ sum: 4000, main: true, dir, eol: 1 });
  expect(cacheFiles()).toEqual(before);
});
