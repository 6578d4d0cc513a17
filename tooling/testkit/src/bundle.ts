import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

export interface TestBundle {
  /** The bundle to start with `node <outfile>`. */
  outfile: string;
  remove: (this: void) => void;
}

/**
 * An app's start bundle built for a test run: its `scripts/build.mjs` (esbuild, a fraction of a
 * second) with the output redirected by `outfileVariable` to a directory of this run inside the
 * app (so its node_modules resolve the packages the bundle leaves external). For tests that start
 * the app as a process: `node <bundle>` needs about 0.7 CPU-s to start where `node --import tsx
 * src/main.ts` needed 1.9 (tsx compiles every source file at each start). A copy of its own, not
 * dist/: a standalone run needs no build first and always tests the current source, and a turbo
 * run restoring dist/ from its cache meanwhile cannot hand a process a half-written file.
 */
export function buildTestBundle(appDir: string, outfileVariable: string): TestBundle {
  const dir = join(appDir, 'node_modules', '.cache', 'jobgate-test-bundle', String(process.pid));
  const outfile = join(dir, 'main.js');
  execFileSync(process.execPath, ['scripts/build.mjs'], {
    cwd: appDir,
    env: { ...process.env, [outfileVariable]: outfile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { outfile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The bundle of this test run, from the package's vitest global setup (`APP_TEST_BUNDLE`, set
 * from `buildTestBundle`); a clear error when the tests run without that setup.
 */
export function testBundle(): string {
  const bundle = process.env.APP_TEST_BUNDLE;
  if (!bundle)
    throw new Error(
      'APP_TEST_BUNDLE is not set: run these tests with the package vitest.integration.config.ts (its global setup builds the bundle)',
    );
  return bundle;
}
