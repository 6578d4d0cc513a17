import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestBundle, type TestBundle } from '@jobgate/testkit';

/** Each app the stack starts, with the variable its `scripts/build.mjs` takes the outfile from. */
const APPS: Record<string, string> = {
  api: 'API_BUNDLE_OUTFILE',
  worker: 'WORKER_BUNDLE_OUTFILE',
  'webhook-service': 'WEBHOOK_BUNDLE_OUTFILE',
  'telemetry-collector': 'COLLECTOR_BUNDLE_OUTFILE',
  monitor: 'MONITOR_BUNDLE_OUTFILE',
};

/**
 * Vitest global setup: every app's start bundle, built once per run (esbuild, about 0.4 CPU-s
 * each) and started by the stack with plain node (`E2E_APP_BUNDLES`, read by `appBundles()`):
 * about 0.7 CPU-s a start where tsx compiling the sources needed 1.9, for some twenty starts. A
 * copy of its own, as the apps' process tests do (`buildTestBundle`): the current source, no build
 * needed first, and no turbo restoring `dist/` under a running process. `pnpm dev` (its own test
 * here) still runs the sources under tsx.
 */
export function setup(): () => void {
  const appsDir = fileURLToPath(new URL('../..', import.meta.url));
  const built: TestBundle[] = [];
  const remove = (): void => {
    for (const bundle of built) bundle.remove();
  };
  try {
    for (const [app, variable] of Object.entries(APPS)) {
      built.push(buildTestBundle(join(appsDir, app), variable));
    }
  } catch (error) {
    remove();
    throw error;
  }
  process.env.E2E_APP_BUNDLES = JSON.stringify(
    Object.fromEntries(Object.keys(APPS).map((app, i) => [app, built[i]!.outfile])),
  );
  return remove;
}
