import { parseDuration } from './levels.js';

export type Command =
  | 'precommit'
  | 'pr'
  | 'release'
  | 'run'
  | 'report'
  | 'test'
  | 'shards'
  | 'merge'
  | 'soak'
  | 'mutation'
  | 'help';

export interface Options {
  command: Command;
  tasks: string[];
  affected: boolean;
  base?: string;
  budget: 'warn' | 'fail';
  /** Overrides every level's timeout (mostly for tests and for impatient people). */
  timeoutMs?: number;
  /** Keep running later levels after a level failed (default: stop, later levels are skipped). */
  keepGoing: boolean;
  /**
   * Stop a level's other running tasks as soon as one fails with a blocking (P0) failure. On for
   * `gate test` unless `--keep-going`; `--bail` turns it on for the other commands.
   */
  bail: boolean;
  verbose: boolean;
  html?: string;
  junit?: string;
  filter: string[];
  /** P1 (and P2) failures block too. */
  strict: boolean;
  /** Also run P2 packages and `[P2]` tests (tracked, not run by default). */
  p2: boolean;
  /** `--shard 2/4`: run the 2nd of 4 time-balanced shards of each test level's files. */
  shard?: { index: number; total: number };
  /** `--concurrency N`: at most N turbo tasks at a time in every level (turbo's default is 10). */
  concurrency?: number;
  /** `--force`: bypass Turbo's cache (a cold run, without deleting it). */
  force: boolean;
  /**
   * `--overlap`: the levels marked `overlaps` (e2e, chaos) run at the same time, each still its own
   * level (turbo run, Redis, report, budget); `--overlap=integration,e2e` names the levels;
   * `--no-overlap` runs them one after another. `gate release` overlaps unless told not to.
   */
  overlap?: string[] | false;
  /** `shards N`: how many shards to plan; `soak --runs N`: how many runs. */
  count?: number;
  /** `shards --write-durations`: refresh tooling/gate/test-durations.json from the history. */
  writeDurations: boolean;
  /** `merge`: run.json files or directories holding one. `mutation`: packages to mutate. */
  inputs: string[];
  /** `soak --levels integration,e2e`; `report --command release`. */
  levels: string[];
  /** `mutation --mutate src/backoff.ts,src/failure/*.ts`: mutate only these files (Stryker globs). */
  mutate: string[];
  commandFilter?: string;
}

export const USAGE = `usage: gate <command> [options]

  precommit                 staged files only: typecheck + related unit tests, on the staged content
  pr [--base REF]           check (or typecheck, lint), test:unit of packages affected since REF
                            (default: origin/$GITHUB_BASE_REF, origin/main, main)
  release                   the whole graph: check (or typecheck, lint), build, test:unit,
                            test:integration, test:e2e, test:chaos; \`check\` when turbo.json defines it
  test                      every test level (what \`pnpm test\` runs); stops at the first blocking
                            failure (bail) and skips the later levels; --keep-going runs everything
  run <tasks...>            any turbo tasks, with services, retries policy and reports
  report [--html FILE] [--command NAME]
                            trends over the recorded runs in .gate/history (charts with --html)
  shards N [--write-durations]
                            print the time-balanced plan of N shards per test level
  merge FILE|DIR...         merge the run.json of several shards into one report and last line
  soak [--runs 20] [--levels integration,e2e]
                            rerun test levels, cache bypassed, and report each test's failure rate
  mutation [core|gate...] [--mutate GLOBS] [--concurrency N] [--force]
                            mutation score (Stryker 10, Node 22) of packages/core and the gate's
                            policy code; incremental: results accumulate in .gate/mutation/<target>

options:
  --affected                only packages changed since --base (turbo --affected)
  --base REF                base for --affected (sets TURBO_SCM_BASE)
  --filter PATTERN          passed to turbo --filter (repeatable)
  --budget=warn|fail        an over-budget level warns (default) or fails the gate
  --timeout DURATION        kill a level's tasks after this long (default: per level, see README)
  --keep-going              run later levels after a failed one (by default the gate stops); for
                            gate test also no bail: every task of a level runs to its end
  --bail                    stop a level's running tasks at its first blocking (P0) failure
                            (default for gate test only)
  --junit FILE              also write the merged JUnit XML here (always in .gate/last/junit.xml)
  --verbose                 stream every task's output
  --strict                  P1 failures block too (default: listed as warnings, exit 0)
  --p2                      also run P2 packages and [P2] tests (tracked, not run by default)
  --shard I/N               run shard I of N of each test level, balanced by recorded durations
  --concurrency N           at most N turbo tasks at a time (default: each level's, see README)
  --force                   bypass Turbo's cache: every task runs (a cold run)
  --overlap[=LEVELS]        run e2e and chaos (or the test LEVELS named, e.g. integration,e2e)
                            at the same time, each its own level (own Redis, report, budget); a
                            blocking failure stops the later ones unless --keep-going (default
                            of gate release)
  --no-overlap              one level after another`;

export class UsageError extends Error {
  override name = 'UsageError';
}

const COMMANDS = new Set<Command>([
  'precommit',
  'pr',
  'release',
  'run',
  'report',
  'test',
  'shards',
  'merge',
  'soak',
  'mutation',
  'help',
]);

export function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    command: 'help',
    tasks: [],
    affected: false,
    budget: 'warn',
    keepGoing: false,
    bail: false,
    verbose: false,
    filter: [],
    strict: false,
    p2: false,
    writeDurations: false,
    force: false,
    inputs: [],
    levels: [],
    mutate: [],
  };
  const rest = [...argv];
  const first = rest.shift();
  if (first === undefined || first === '--help' || first === '-h') return options;
  if (!COMMANDS.has(first as Command))
    throw new UsageError(`Unknown command "${first}".\n\n${USAGE}`);
  options.command = first as Command;

  const value = (flag: string, inline: string | undefined): string => {
    const next = inline ?? rest.shift();
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value.`);
    return next;
  };
  while (rest.length > 0) {
    const arg = rest.shift()!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    switch (flag) {
      case '--affected':
        options.affected = true;
        break;
      case '--base':
        options.base = value(flag, inline);
        break;
      case '--filter':
        options.filter.push(value(flag, inline));
        break;
      case '--budget': {
        const mode = value(flag, inline);
        if (mode !== 'warn' && mode !== 'fail')
          throw new UsageError(`--budget must be warn or fail, not "${mode}".`);
        options.budget = mode;
        break;
      }
      case '--timeout':
        try {
          options.timeoutMs = parseDuration(value(flag, inline));
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        break;
      case '--keep-going':
        options.keepGoing = true;
        break;
      case '--bail':
        options.bail = true;
        break;
      case '--verbose':
        options.verbose = true;
        break;
      case '--html':
        options.html = value(flag, inline);
        break;
      case '--junit':
        options.junit = value(flag, inline);
        break;
      case '--strict':
        options.strict = true;
        break;
      case '--p2':
        options.p2 = true;
        break;
      case '--shard': {
        const text = value(flag, inline);
        const match = /^(\d+)\/(\d+)$/.exec(text);
        const index = Number(match?.[1]);
        const total = Number(match?.[2]);
        if (!match || total < 1 || index < 1 || index > total)
          throw new UsageError(`--shard must be I/N with 1 <= I <= N, e.g. 2/4, not "${text}".`);
        options.shard = { index, total };
        break;
      }
      case '--runs': {
        const runs = Number(value(flag, inline));
        if (!Number.isInteger(runs) || runs < 1)
          throw new UsageError(`--runs must be a whole number of at least 1.`);
        options.count = runs;
        break;
      }
      case '--levels':
        options.levels = value(flag, inline)
          .split(',')
          .map((level) => level.trim())
          .filter(Boolean);
        break;
      case '--command':
        options.commandFilter = value(flag, inline);
        break;
      case '--mutate':
        options.mutate.push(
          ...value(flag, inline)
            .split(',')
            .map((glob) => glob.trim())
            .filter(Boolean),
        );
        break;
      case '--concurrency': {
        const text = value(flag, inline);
        const n = Number(text);
        if (!Number.isInteger(n) || n < 1)
          throw new UsageError(
            `--concurrency must be a whole number of at least 1, not "${text}".`,
          );
        options.concurrency = n;
        break;
      }
      case '--force':
        options.force = true;
        break;
      case '--overlap': {
        const names = (inline ?? '')
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean);
        const known = ['unit', 'integration', 'e2e', 'chaos'];
        const bad = names.filter((name) => !known.includes(name));
        if (bad.length > 0)
          throw new UsageError(
            `--overlap takes test levels (${known.join(', ')}), not "${bad.join(', ')}".`,
          );
        if (inline !== undefined && names.length < 2)
          throw new UsageError('--overlap=LEVELS names at least two levels, e.g. e2e,chaos.');
        options.overlap = names;
        break;
      }
      case '--no-overlap':
        options.overlap = false;
        break;
      case '--write-durations':
        options.writeDurations = true;
        break;
      case '--help':
      case '-h':
        options.command = 'help';
        break;
      default:
        if (flag.startsWith('-')) {
          const near = closestOption(flag);
          throw new UsageError(
            `Unknown option "${flag}".${near ? ` Did you mean "${near}"?` : ''}\n\n${USAGE}`,
          );
        }
        if (options.command === 'merge' || options.command === 'mutation') {
          options.inputs.push(flag);
          break;
        }
        if (options.command === 'shards' && options.count === undefined && /^\d+$/.test(flag)) {
          options.count = Number(flag);
          break;
        }
        if (options.command !== 'run')
          throw new UsageError(`Unexpected argument "${flag}" for gate ${options.command}.`);
        options.tasks.push(flag);
    }
  }
  if (options.command === 'run' && options.tasks.length === 0) {
    throw new UsageError('gate run needs at least one task, e.g. `gate run test:e2e --affected`.');
  }
  if (options.mutate.length > 0 && options.command !== 'mutation')
    throw new UsageError('--mutate is an option of gate mutation.');
  if (options.command === 'merge' && options.inputs.length === 0)
    throw new UsageError('gate merge needs the run.json files (or directories) of the shards.');
  if (options.shard && (options.affected || options.filter.length > 0 || options.base))
    throw new UsageError(
      '--shard plans over every package; it cannot be combined with --affected, --base or --filter.',
    );
  if (options.bail && options.keepGoing)
    throw new UsageError(
      '--bail stops at the first blocking failure, --keep-going runs everything: pick one.',
    );
  if (options.command === 'test' && !options.keepGoing) options.bail = true;
  if (options.command === 'release' && options.overlap === undefined) options.overlap = [];
  if (options.command === 'pr') options.affected = true;
  if (options.base !== undefined && options.command !== 'pr') options.affected = true;
  return options;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The documented option nearest to a mistyped one (`--bse` -> `--base`), if one is close. */
export function closestOption(flag: string): string | undefined {
  const name = flag.split('=')[0]!;
  const known = [...new Set(USAGE.match(/--[a-z][a-z0-9-]*/g) ?? [])];
  let best: { option: string; distance: number } | undefined;
  for (const option of known) {
    const distance = editDistance(name, option);
    if (!best || distance < best.distance) best = { option, distance };
  }
  // Within a third of the name's length: a typo, not a different word.
  return best && best.distance <= Math.max(1, Math.floor(name.length / 3))
    ? best.option
    : undefined;
}
