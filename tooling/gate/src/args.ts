import { parseDuration } from './levels.js';

export type Command = 'precommit' | 'pr' | 'release' | 'run' | 'report' | 'test' | 'help';

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
  verbose: boolean;
  html?: string;
  junit?: string;
  filter: string[];
}

export const USAGE = `usage: gate <command> [options]

  precommit                 staged files only: typecheck + related unit tests, on the staged content
  pr [--base REF]           typecheck, lint, test:unit of packages affected since REF
                            (default: origin/$GITHUB_BASE_REF, origin/main, main)
  release                   the whole graph: typecheck, lint, build, test:unit, test:integration, test:e2e, test:chaos
  test                      every test level (what \`pnpm test\` runs)
  run <tasks...>            any turbo tasks, with services, retries policy and reports
  report [--html FILE]      trends over the recorded runs in .gate/history

options:
  --affected                only packages changed since --base (turbo --affected)
  --base REF                base for --affected (sets TURBO_SCM_BASE)
  --filter PATTERN          passed to turbo --filter (repeatable)
  --budget=warn|fail        an over-budget level warns (default) or fails the gate
  --timeout DURATION        kill a level's tasks after this long (default: per level, see README)
  --keep-going              run later levels even when one failed
  --junit FILE              also write the merged JUnit XML here (always in .gate/last/junit.xml)
  --verbose                 stream every task's output`;

export class UsageError extends Error {
  override name = 'UsageError';
}

const COMMANDS = new Set<Command>(['precommit', 'pr', 'release', 'run', 'report', 'test', 'help']);

export function parseArgs(argv: readonly string[]): Options {
  const options: Options = {
    command: 'help',
    tasks: [],
    affected: false,
    budget: 'warn',
    keepGoing: false,
    verbose: false,
    filter: [],
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
      case '--verbose':
        options.verbose = true;
        break;
      case '--html':
        options.html = value(flag, inline);
        break;
      case '--junit':
        options.junit = value(flag, inline);
        break;
      case '--help':
      case '-h':
        options.command = 'help';
        break;
      default:
        if (flag.startsWith('-')) throw new UsageError(`Unknown option "${flag}".\n\n${USAGE}`);
        if (options.command !== 'run')
          throw new UsageError(`Unexpected argument "${flag}" for gate ${options.command}.`);
        options.tasks.push(flag);
    }
  }
  if (options.command === 'run' && options.tasks.length === 0) {
    throw new UsageError('gate run needs at least one task, e.g. `gate run test:e2e --affected`.');
  }
  if (options.command === 'pr') options.affected = true;
  // `pnpm test` means every test level: one failing level must not hide the others' results.
  if (options.command === 'test') options.keepGoing = true;
  if (options.base !== undefined && options.command !== 'pr') options.affected = true;
  return options;
}
