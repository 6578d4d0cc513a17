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
  console.log(`${total} shards, ${source}`);
  for (const level of LEVELS.filter(
    (level) => level.name === 'integration' || level.name === 'e2e',
  )) {
    const files = listTestFiles(root, level);
    const shards = planShards(files, durations, total);
    const mean = shards.reduce((sum, shard) => sum + shard.weightMs, 0) / total;
    const max = Math.max(...shards.map((shard) => shard.weightMs));
    console.log(
      `\n${level.title}: ${files.length} files, slowest shard ${formatDuration(Math.round(max))}, mean ${formatDuration(Math.round(mean))} (${mean > 0 ? `+${Math.round((max / mean - 1) * 100)}%` : 'n/a'})`,
    );
    for (const shard of shards) {
      console.log(
        `  ${shard.index}/${total}  ${formatDuration(Math.round(shard.weightMs)).padStart(7)}  ${shard.files.length} files`,
      );
      for (const file of shard.files) console.log(`        ${rootPath(file)}`);
    }
  }
  return 0;
}
