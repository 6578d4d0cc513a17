import { chaosConfig } from '@jobgate/vitest-config/chaos';
import { mergeConfig } from 'vitest/config';

export default mergeConfig(chaosConfig, {
  // Clears the scenario figures before the run and writes the table after it, pass or fail.
  test: { globalSetup: ['./src/table-setup.ts'] },
});
