import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

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
  const bundle = testBundleAt(appDir);
  execFileSync(process.execPath, ['scripts/build.mjs'], {
    cwd: appDir,
    env: { ...process.env, [outfileVariable]: bundle.outfile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return bundle;
}

function testBundleAt(appDir: string): TestBundle {
  const dir = join(appDir, 'node_modules', '.cache', 'jobgate-test-bundle', String(process.pid));
  return {
    outfile: join(dir, 'main.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * `buildTestBundle` for several apps, their builds all at once (a suite that starts several apps:
 * the node and esbuild start-ups overlap instead of following each other). Fails with the first
 * build's error after every build has ended, and then leaves none of the bundles behind.
 */
export async function buildTestBundles(
  apps: ReadonlyArray<{ appDir: string; outfileVariable: string }>,
): Promise<TestBundle[]> {
  const bundles = apps.map(({ appDir }) => testBundleAt(appDir));
  const results = await Promise.allSettled(
    apps.map(({ appDir, outfileVariable }, i) =>
      promisify(execFile)(process.execPath, ['scripts/build.mjs'], {
        cwd: appDir,
        env: { ...process.env, [outfileVariable]: bundles[i]!.outfile },
      }),
    ),
  );
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) {
    for (const bundle of bundles) bundle.remove();
    throw failed.reason;
  }
  return bundles;
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
