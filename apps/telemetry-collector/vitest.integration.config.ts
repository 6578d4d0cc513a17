import { integrationConfig } from '@jobgate/vitest-config/integration';
import { mergeConfig } from 'vitest/config';

// The cases that start the app as a process run a bundle built once per run (test/bundle-setup.ts).
export default mergeConfig(integrationConfig, {
  test: { globalSetup: ['./test/bundle-setup.ts'] },
});
