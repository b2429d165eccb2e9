import * as fs from 'node:fs';
import * as path from 'node:path';
import Sequencer from '@jest/test-sequencer';

// The suite's own scheduling: test/support/test-sequencer.js and its table.
const EstimatingSequencer = require('../support/test-sequencer') as typeof Sequencer;
const estimates = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'support', 'test-durations.json'), 'utf-8')) as Record<string, number>;

const ROOT = path.join(__dirname, '..', '..');
/** A test as jest hands it to the sequencer, in a context without jest's timing cache (as in a fresh clone). */
const testOf = (relative: string, size = 1000) =>
  ({ path: path.join(ROOT, relative), context: { config: { rootDir: ROOT, cache: false }, hasteFS: { getSize: () => size } } }) as never;
const order = (tests: ReturnType<typeof testOf>[]) =>
  (new EstimatingSequencer({} as never).sort(tests) as Array<{ path: string }>).map((t) => path.relative(ROOT, t.path));

afterEach(() => jest.restoreAllMocks());

test('without jest timings, the longest files by the table run first, whatever their size', () => {
  const [longest, middle, shortest] = Object.entries(estimates)
    .sort((a, b) => b[1] - a[1])
    .filter((_, i, all) => i === 0 || i === Math.floor(all.length / 2) || i === all.length - 1)
    .map(([file]) => file);
  expect(estimates[longest]).toBeGreaterThan(estimates[shortest]);
  // Sizes in the opposite order: jest's own fallback would run the shortest first.
  expect(order([testOf(shortest, 90_000), testOf(longest, 1_000), testOf(middle, 50_000)])).toEqual([longest, middle, shortest]);
});

test('a file the table does not know runs first, as jest runs any file it has no time for', () => {
  const known = Object.keys(estimates)[0];
  expect(order([testOf(known), testOf('test/unit/not-in-the-table.test.ts')])).toEqual(['test/unit/not-in-the-table.test.ts', known]);
});

test("jest's measured time wins over the table", () => {
  const [longest, shortest] = Object.entries(estimates)
    .sort((a, b) => b[1] - a[1])
    .filter((_, i, all) => i === 0 || i === all.length - 1)
    .map(([file]) => file);
  // Jest's own timing (its perf cache), as the base class reads it; `time` is not in its public declarations.
  const base = Sequencer.prototype as unknown as { time: (t: { path: string }) => number | undefined };
  jest.spyOn(base, 'time').mockImplementation((t) => (t.path.endsWith(shortest) ? 10_000_000 : undefined));
  expect(order([testOf(longest), testOf(shortest)])).toEqual([shortest, longest]);
});

test('every file in the table exists (a renamed file would lose its estimate)', () => {
  const missing = Object.keys(estimates).filter((file) => !fs.existsSync(path.join(ROOT, file)));
  expect(missing).toEqual([]);
  expect(Object.keys(estimates).length).toBeGreaterThan(50);
});
