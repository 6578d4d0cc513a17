import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** What `gate mutation` mutates: the package directory and its Stryker config. */
export const MUTATION_TARGETS: Record<string, { dir: string; config: string }> = {
  core: { dir: 'packages/core', config: 'tooling/gate/mutation/core.config.json' },
  gate: { dir: 'tooling/gate', config: 'tooling/gate/mutation/gate.config.json' },
};

/**
 * `gate mutation [core|gate...]`: Stryker 9.6 with the vitest runner (10.x requires Node 22), run
 * from each package's directory with its unit config; HTML and JSON reports in
 * `.gate/mutation/<target>/`. The exit code is Stryker's.
 */
export async function runMutation(root: string, targets: readonly string[]): Promise<number> {
  const names = targets.length > 0 ? targets : Object.keys(MUTATION_TARGETS);
  const unknown = names.filter((name) => !MUTATION_TARGETS[name]);
  if (unknown.length > 0) {
    console.error(
      `gate: unknown mutation target(s) ${unknown.join(', ')}; use ${Object.keys(MUTATION_TARGETS).join(', ')}`,
    );
    return 2;
  }
  const stryker = join(root, 'tooling/gate/node_modules/.bin/stryker');
  let worst = 0;
  for (const name of names) {
    const target = MUTATION_TARGETS[name]!;
    console.log(`\n=== mutation: ${name} (${target.dir}) ===`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(stryker, ['run', join(root, target.config)], {
        cwd: join(root, target.dir),
        stdio: 'inherit',
      });
      child.once('error', () => resolve(1));
      child.once('close', (exit) => resolve(exit ?? 1));
    });
    worst = Math.max(worst, code);
  }
  return worst;
}
