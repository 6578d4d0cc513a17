import { parseArgs, USAGE, UsageError, type Options } from './args.js';
import { defaultBase, repoRoot } from './git.js';
import { planLevels, profileTasks, rootTurboDefines } from './levels.js';
import { QuarantineFileError } from './quarantine.js';
import { TierDeclarationError } from './tiers.js';

function tasksFor(options: Options, root: string): string[] {
  switch (options.command) {
    case 'pr':
    case 'release':
    case 'test':
      return profileTasks(options.command, rootTurboDefines(root, 'check'));
    default:
      return options.tasks;
  }
}

/** Returns the process exit code: 0 green, 1 something blocking failed, 2 bad usage, 130 Ctrl-C. */
export async function main(argv: readonly string[], cwd = process.cwd()): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`gate: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (options.command === 'help') {
    console.log(USAGE);
    return 0;
  }
  const root = repoRoot(cwd);
  // Command modules load on demand: every module is transpiled at start, and start-up is overhead.
  if (options.command === 'report')
    return (await import('./trends.js')).writeTrends(root, options.html, options.commandFilter);
  if (options.command === 'shards')
    return (await import('./shards-cli.js')).printShards(root, options);
  if (options.command === 'merge') {
    const { mergeRuns, readRunFile } = await import('./merge.js');
    const { publish } = await import('./gate.js');
    let runs;
    try {
      runs = options.inputs.map(readRunFile);
    } catch (error) {
      console.error(`gate: ${(error as Error).message}`);
      return 2;
    }
    const record = mergeRuns(runs);
    publish(root, record, options, (text) => console.log(text));
    return record.exitCode;
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    console.error(`\ngate: ${signal}: stopping tasks and services (again to force)…`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (options.command === 'precommit')
      return await (await import('./precommit.js')).runPrecommit(root, controller.signal);
    if (options.command === 'soak')
      return await (await import('./soak.js')).runSoak(root, options, controller.signal);
    if (options.command === 'mutation')
      return await (
        await import('./mutation.js')
      ).runMutation(root, options.inputs, {
        mutate: options.mutate,
        concurrency: options.concurrency,
        force: options.force,
      });
    if (options.command === 'pr' && options.base === undefined) options.base = defaultBase(root);
    const label = options.command === 'run' ? `run ${options.tasks.join(' ')}` : options.command;
    const { runGate } = await import('./gate.js');
    const record = await runGate({
      root,
      label,
      levels: planLevels(tasksFor(options, root)),
      options,
      signal: controller.signal,
    });
    return record.exitCode;
  } catch (error) {
    if (error instanceof QuarantineFileError || error instanceof TierDeclarationError) {
      console.error(`gate: ${error.message}`);
      console.log('gate: 0 passed, 1 failed, 0 warned');
      return 2;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
