import { chaosConfig } from '@jobgate/vitest-config/chaos';
import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { mergeConfig } from 'vitest/config';

/**
 * The order the files run in (one at a time). The scenarios that mostly wait go first, while the
 * e2e level beside this one keeps both cores busy (`pnpm dev`, Chromium): their time is the
 * faults' (a receiver's outage, Redis down, leases expiring), not CPU. The CPU-bound ones (4, 5,
 * 1) go last, when e2e has ended: hostile input took 20.5-30.5 s first and 5.5-6.5 s last in gate runs.
 * Vitest's own order (the last run's durations, or file size in a fresh checkout) put hostile
 * input first. Files not listed run after these, by name.
 */
const ORDER = [
  '06-receivers-down',
  '02-frozen-worker-and-redis-restart',
  '04-overload',
  '05-hostile-input',
  '01-worker-kills',
];

const rank = (spec: TestSpecification): number => {
  const index = ORDER.indexOf(basename(spec.moduleId).replace(/\.test\.ts$/, ''));
  return index === -1 ? ORDER.length : index;
};

class ScenarioOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve(
      [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId)),
    );
  }
}

export default mergeConfig(chaosConfig, {
  test: {
    // Clears the scenario figures before the run and writes the table after it, pass or fail.
    globalSetup: ['./src/table-setup.ts'],
    sequence: { sequencer: ScenarioOrder },
  },
});
