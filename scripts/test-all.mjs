#!/usr/bin/env node
// Runs every test level through Turbo and prints one closing line counted from the result files
// (cached tasks restore theirs), e.g. `test: 120 passed, 0 failed, 2 skipped`.
// Superseded by the gate (`pnpm gate`), kept as the dependency-free fallback.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const summaryOnly = process.argv.includes('--summary-only');
let status = 0;
if (!summaryOnly) {
  const run = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test:unit', 'test:integration', 'test:e2e'], {
    stdio: 'inherit',
  });
  status = run.status ?? 1;
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of ['apps', 'packages', 'tooling']) {
  if (!existsSync(group)) continue;
  for (const pkg of readdirSync(group)) {
    for (const level of ['unit', 'integration', 'e2e']) {
      const file = join(group, pkg, '.test-results', level, 'results.json');
      if (!existsSync(file)) continue;
      const report = JSON.parse(readFileSync(file, 'utf8'));
      passed += report.numPassedTests ?? 0;
      failed += report.numFailedTests ?? 0;
      skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    }
  }
}
if (status !== 0 && failed === 0) failed = 1; // a task failed without a result file: never report green
console.log(`test: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status !== 0 || failed > 0 ? 1 : 0);
