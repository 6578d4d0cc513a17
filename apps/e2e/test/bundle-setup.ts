import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestBundles } from '@jobgate/testkit';

/** Each app the stack starts, with the variable its `scripts/build.mjs` takes the outfile from. */
const APPS: Record<string, string> = {
  api: 'API_BUNDLE_OUTFILE',
  worker: 'WORKER_BUNDLE_OUTFILE',
  'webhook-service': 'WEBHOOK_BUNDLE_OUTFILE',
  'telemetry-collector': 'COLLECTOR_BUNDLE_OUTFILE',
  monitor: 'MONITOR_BUNDLE_OUTFILE',
};

/**
 * Vitest global setup: every app's start bundle, built once per run (esbuild; the five builds at
 * once) and started by the stack with plain node (`E2E_APP_BUNDLES`, read by `appBundles()`):
 * 0.4-0.6 CPU-s a start where tsx compiling the sources needed 1.4-1.9, for some twenty starts. A
 * copy of its own, as the apps' process tests do (`buildTestBundle`): the current source, no build
 * needed first, and no turbo restoring `dist/` under a running process. `pnpm dev` (its own test
 * here) still runs the sources under tsx.
 */
export async function setup(): Promise<() => void> {
  const appsDir = fileURLToPath(new URL('../..', import.meta.url));
  const built = await buildTestBundles(
    Object.entries(APPS).map(([app, outfileVariable]) => ({
      appDir: join(appsDir, app),
      outfileVariable,
    })),
  );
  process.env.E2E_APP_BUNDLES = JSON.stringify(
    Object.fromEntries(Object.keys(APPS).map((app, i) => [app, built[i]!.outfile])),
  );
  return () => {
    for (const bundle of built) bundle.remove();
  };
}
