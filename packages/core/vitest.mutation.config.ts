import { unitConfig } from '@jobgate/vitest-config/unit';
import { defineConfig } from 'vitest/config';

// Stryker's runs (`pnpm gate mutation core`): the unit preset, narrowed to the tests of the files
// it mutates (tooling/gate/mutation/core.config.json), so each of about a thousand runs is short.
export default defineConfig({
  ...unitConfig,
  test: {
    ...unitConfig.test,
    include: [
      'src/backoff.test.ts',
      'src/encoding.test.ts',
      'src/validation.test.ts',
      'src/keys.test.ts',
      'src/failure/*.test.ts',
    ],
  },
});
