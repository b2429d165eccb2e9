/*
 * Test-only, preloaded (`node --require`) into the Node.js processes that the local buildspec runner starts when
 * GATEWAY_TEST_CODE_CACHE names a folder: V8's code cache for big CommonJS files (the bundled step helpers, about
 * 1 MB each). A test run starts them about a hundred times, and each start compiled the same megabyte again
 * (about 0.1 s of CPU). The first start of a file stores V8's compiled code under the file's sha256; later starts
 * give it back to V8, which checks it against the source and its own version and flags, and compiles normally
 * when the cache does not fit. The code that runs is the file's, unchanged; CodeBuild never sees this file.
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

// CODE_CACHE_ENV of test/support/buildspec-runner.ts, which adds this preload only when it is set.
const dir = process.env.GATEWAY_TEST_CODE_CACHE;
/** Smaller files compile in less time than the cache takes to read. */
const MIN_BYTES = 100_000;
const original = Module.prototype._compile;

Module.prototype._compile = function compileWithCodeCache(content, filename) {
  // A script with a #! line is left to Node, which strips the line (wrapped, it would be a syntax error).
  if (!dir || content.length < MIN_BYTES || content.startsWith('#!')) return original.call(this, content, filename);
  const file = path.join(dir, `${crypto.createHash('sha256').update(content).digest('hex')}.v8`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(file);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(content), { filename, cachedData });
  const compiled = script.runInThisContext({ displayErrors: true });
  const mod = this;
  const require = (id) => mod.require(id);
  require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  require.main = process.mainModule;
  require.cache = Module._cache;
  const result = compiled.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
  if (cachedData === undefined || script.cachedDataRejected) {
    // Written whole, then renamed: a process starting meanwhile reads no half-written cache.
    const partial = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(partial, script.createCachedData());
      fs.renameSync(partial, file);
    } catch {
      // A cache that cannot be written only costs the next start its compile time.
    }
  }
  return result;
};
