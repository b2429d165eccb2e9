#!/usr/bin/env node
/**
 * Writes test-durations.json (seconds per test file, rounded to 0.1 s) from a whole run's `jest --json` output,
 * for test-sequencer.js. Usage: npx jest --json --outputFile=/tmp/jest.json; node test/support/test-durations.js /tmp/jest.json
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const input = process.argv[2];
if (!input) {
  console.error('usage: node test/support/test-durations.js <jest --json output file>');
  process.exit(2);
}
const results = JSON.parse(fs.readFileSync(input, 'utf-8')).testResults;
const durations = Object.fromEntries(
  results
    .map((r) => [path.relative(ROOT, r.name).split(path.sep).join('/'), Math.round((r.endTime - r.startTime) / 100) / 10])
    .sort(([a], [b]) => (a < b ? -1 : 1)),
);
fs.writeFileSync(path.join(__dirname, 'test-durations.json'), `${JSON.stringify(durations, null, 2)}\n`);
console.log(`test-durations.json: ${results.length} files`);
