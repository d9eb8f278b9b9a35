// Mocha reporter: the spec reporter's output, then one plain closing line that CI reads:
// "N passed, N failed, N skipped".
"use strict";
const Mocha = require("mocha");
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // The lint and type gate ran before mocha (scripts/run-tests.mjs): each check counts as one test.
      const gatePassed = Number(process.env.VEXXY_GATE_PASSED ?? 0);
      const gateFailed = Number(process.env.VEXXY_GATE_FAILED ?? 0);
      const summary = { passes: s.passes + gatePassed, failures: s.failures + gateFailed, pending: s.pending };
      // scripts/leak-check.mjs reprints the line, one failure more, when the process does not end.
      globalThis.__vexxySummary = summary;
      process.stdout.write(`\n${summary.passes} passed, ${summary.failures} failed, ${summary.pending} skipped\n`);
    });
  }
}
module.exports = SummaryReporter;
