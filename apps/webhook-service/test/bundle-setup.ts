import { fileURLToPath } from 'node:url';
import { buildTestBundle } from '@jobgate/testkit';

/**
 * Vitest global setup: the start bundle, built once per run for the cases that start the app as a
 * process (`node $APP_TEST_BUNDLE`; see buildTestBundle), removed after the run.
 */
export function setup(): () => void {
  const bundle = buildTestBundle(
    fileURLToPath(new URL('..', import.meta.url)),
    'WEBHOOK_BUNDLE_OUTFILE',
  );
  process.env.APP_TEST_BUNDLE = bundle.outfile;
  return bundle.remove;
}
