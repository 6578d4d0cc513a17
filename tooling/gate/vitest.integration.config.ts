import { integrationConfig } from '@jobgate/vitest-config/integration';
import { defineConfig, mergeConfig } from 'vitest/config';

// Each test drives whole gate runs (several turbo and vitest processes) in fixture repos.
export default mergeConfig(integrationConfig, defineConfig({ test: { testTimeout: 120_000 } }));
