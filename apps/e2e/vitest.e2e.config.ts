import { e2eConfig } from '@jobgate/vitest-config/e2e';
import { mergeConfig } from 'vitest/config';

export default mergeConfig(e2eConfig, {
  test: {
    // The apps' start bundles, built once per run for the stack (test/bundle-setup.ts).
    globalSetup: ['./test/bundle-setup.ts'],
    // Two files at a time, each worker staying (`isolate: false`): `dev-stack` (`pnpm dev`, about
    // 40 s) in one, the other five one after another in the other. Every file starts its own
    // processes on free ports in a namespace of its own (dev-stack its own Redis), so none sees
    // another's jobs, workers or processes.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
