export { main } from './cli.js';
export { parseArgs, type Options } from './args.js';
export {
  LEVELS,
  PROFILES,
  TOTAL_BUDGET_MS,
  planLevels,
  profileTasks,
  rootTurboDefines,
  type Level,
  type LevelName,
} from './levels.js';
export { runGate } from './gate.js';
export { readHistory, type RunRecord, type TaskRecord, type LevelRecord } from './record.js';
export {
  loadQuarantine,
  proposeReleases,
  QUARANTINE_FILE,
  RELEASE_AFTER_RUNS,
} from './quarantine.js';
export { computeTrends } from './trends.js';
