import { e2eConfig } from '@jobgate/vitest-config/e2e';
import { mergeConfig } from 'vitest/config';

export default mergeConfig(e2eConfig, {
  // The apps' start bundles, built once per run for the stack (test/bundle-setup.ts).
  test: { globalSetup: ['./test/bundle-setup.ts'] },
});
