import type { ViteUserConfig } from 'vitest/config';

export type Level = 'unit' | 'integration' | 'e2e';

/** Where each level writes its machine-readable results; `turbo.json` lists it as the task output. */
export function resultsDir(level: Level): string {
  return `.test-results/${level}`;
}

export function reporting(level: Level): NonNullable<ViteUserConfig['test']> {
  const dir = resultsDir(level);
  return {
    reporters: [process.env.CI ? 'dot' : 'default', 'json', 'junit'],
    outputFile: { json: `${dir}/results.json`, junit: `${dir}/junit.xml` },
    includeTaskLocation: true,
    passWithNoTests: true,
  };
}

export function here(file: string): string {
  return new URL(file, import.meta.url).pathname;
}
