/**
 * Jest's own order (failed first, then the longest first), with a committed estimate where jest has no timing yet.
 *
 * Jest keeps each file's last duration in a cache keyed by the checkout's path, so a fresh clone has none and
 * jest orders by file size. Here that put the long rehearsal files (short files that run whole installs) last,
 * where one worker ran them alone while the other had finished: seconds of a two-core run's wall time. With
 * test-durations.json (seconds per file, from a whole run: `node test/support/test-durations.js <jest --json
 * output>`), a first run starts the longest files first too. Jest's measured time wins once it has one; a file
 * missing from the table runs first, as jest runs any file it has no time for.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const estimates = require('./test-durations.json');

class EstimatingSequencer extends Sequencer {
  time(test) {
    const measured = super.time(test);
    if (measured !== undefined) return measured;
    const relative = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
    const seconds = estimates[relative];
    return seconds === undefined ? undefined : seconds * 1000;
  }
}

module.exports = EstimatingSequencer;
