// The closing lines of scripts/test: one count over the lanes and the consumer project, and
// every failed, skipped or missing part again with its reason. The lanes print side by side
// and CI often keeps only the end of the output, so a cause printed early must be repeated
// here. Exits 1 if anything failed, was skipped, or a lane ran nothing.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

interface Assertion {
  fullName: string;
  status: string;
  failureMessages?: string[];
}
interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults: Assertion[];
}
interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  success: boolean;
  testResults: FileResult[];
}

const RUNS = ['consumer', 'vitest-local', 'vitest-edge', 'vitest-cluster', 'vitest-offsite'];
const clip = (text: string, max = 1500) => (text.length > max ? `${text.slice(0, max)} …` : text);
const relative = (file: string) => path.relative(REPO_ROOT, file);

const problems: string[] = [];
const reports = RUNS.map((name): Report | undefined => {
  const file = `${REPO_ROOT}test/results/${name}.json`;
  if (!existsSync(file)) {
    problems.push(`${name}: no report (the lane did not get to the end)`);
    return undefined;
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  if (report.numPassedTests === 0) problems.push(`${name}: no test passed`);
  for (const result of report.testResults) {
    // A file whose beforeAll failed has its message here, and its tests only as skipped.
    if (result.status === 'failed' && result.message)
      problems.push(`${relative(result.name)}: ${clip(result.message)}`);
    for (const test of result.assertionResults) {
      if (test.status === 'passed') continue;
      const why = test.failureMessages?.[0];
      problems.push(`${test.status}: ${relative(result.name)} › ${test.fullName}${why ? `\n    ${clip(why)}` : ''}`);
    }
  }
  if (!report.success && problems.length === 0) problems.push(`${name}: vitest reported no success`);
  return report;
});

const sum = (key: 'numPassedTests' | 'numFailedTests' | 'numPendingTests' | 'numTodoTests') =>
  reports.reduce((total, report) => total + (report?.[key] ?? 0), 0);
const consumer = reports[0];
console.log(
  `of which the consumer project (test/consumer): ${consumer?.numPassedTests ?? 0} passed, ${consumer?.numFailedTests ?? 0} failed`,
);
console.log(
  `tests: ${sum('numPassedTests')} passed, ${sum('numFailedTests')} failed, ${sum('numPendingTests') + sum('numTodoTests')} skipped`,
);
if (problems.length > 0) {
  console.log(`\nwhat went wrong (${problems.length}):`);
  for (const problem of problems.slice(0, 30)) console.log(`- ${problem}`);
  process.exit(1);
}
