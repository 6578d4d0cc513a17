import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * `pnpm test:ui`: the Vitest UI (ADR-002 R5) over every package's unit tests from the root. Each
 * project is a package's own unit config, so the UI runs exactly what `test:unit` runs.
 */
export default defineConfig({
  // Run from the repository root; this file lives here only to be linted with the gate.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    projects: ['{apps,packages,tooling}/*/vitest.unit.config.ts'],
  },
});
