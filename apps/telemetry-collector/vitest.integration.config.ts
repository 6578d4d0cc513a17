import { integrationConfig } from '@jobgate/vitest-config/integration';
import { mergeConfig } from 'vitest/config';

// The cases that start the app as a process run a bundle built once per run (test/bundle-setup.ts).
// A collector's first export waits for its export thread to load the OTLP SDK, and in a soak's
// loaded integration level waits of 10 s for a first export ran out. The tests wait up to 20 s,
// so each gets 60 s: the preset's 30 s could end a test before its own wait says what was missing.
export default mergeConfig(integrationConfig, {
  test: { globalSetup: ['./test/bundle-setup.ts'], testTimeout: 60_000 },
});
