const { writeSync } = require('node:fs');

/**
 * Prints one plain closing line ("jest: N passed, N failed") that CI tooling can read. Jest's own
 * summary and the global teardown's log come after onRunComplete, so the line is written when the
 * process exits: it is always the last line of the run, whichever projects ran.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    // A file can fail with no failed test in it (an error in a hook, or a file that did not load): said too.
    const broken = results.testResults.filter((r) => r.testExecError || (r.failureMessage && r.numFailingTests === 0)).length;
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}${broken ? `, ${broken} test file(s) failed outside their tests` : ''}\n`;
    process.once('exit', () => writeSync(process.stdout.fd, `\n${line}`));
  }
}
module.exports = SummaryReporter;
