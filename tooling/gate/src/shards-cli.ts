import type { Options } from './args.js';
import { LEVELS } from './levels.js';
import { formatDuration } from './report.js';
import {
  durationsFromHistory,
  knownDurations,
  listTestFiles,
  planShards,
  rootPath,
  writeCommittedDurations,
  type Shard,
  type TestFile,
} from './shards.js';
import { readHistory } from './record.js';

/** `gate shards N`: the plan each `--shard i/N` would run, and its predicted balance. */
export function printShards(root: string, options: Options): number {
  const total = options.count ?? 4;
  if (options.writeDurations) {
    const durations = durationsFromHistory(readHistory(root, 50));
    if (durations.size === 0) {
      console.error('gate: no test durations in .gate/history yet; run the test levels first.');
      return 1;
    }
    console.log(
      `wrote ${durations.size} file durations to ${writeCommittedDurations(root, durations)}`,
    );
  }
  const { durations, source } = knownDurations(root);
  const levels = LEVELS.filter((level) => level.name === 'integration' || level.name === 'e2e');
  const files = levels.flatMap((level) =>
    listTestFiles(root, level).map((file) => ({ ...file, level: level.title })),
  );
  // Planned together, as `gate run test:integration test:e2e --shard i/N` does on each runner.
  const { shards, mean, max } = shardBalance(files, durations, total);
  console.log(
    `${total} shards of ${levels.map((level) => level.title).join(' + ')}, ${files.length} files, ${source}`,
  );
  console.log(
    `slowest shard ${formatDuration(Math.round(max))}, mean ${formatDuration(Math.round(mean))} (${mean > 0 ? `+${Math.round((max / mean - 1) * 100)}%` : 'n/a'})`,
  );
  const levelOf = new Map(files.map((file) => [`${file.package}::${file.file}`, file.level]));
  for (const shard of shards) {
    console.log(
      `  ${shard.index}/${total}  ${formatDuration(Math.round(shard.weightMs)).padStart(7)}  ${shard.files.length} files`,
    );
    for (const file of shard.files)
      console.log(`        ${rootPath(file)}  (${levelOf.get(`${file.package}::${file.file}`)})`);
  }
  return 0;
}

/** The plan and its balance: the slowest shard against the mean. */
export function shardBalance(
  files: readonly TestFile[],
  durations: ReadonlyMap<string, number>,
  total: number,
): { shards: Shard[]; mean: number; max: number } {
  const shards = planShards(files, durations, total);
  const mean = shards.reduce((sum, shard) => sum + shard.weightMs, 0) / total;
  const max = Math.max(...shards.map((shard) => shard.weightMs));
  return { shards, mean, max };
}
