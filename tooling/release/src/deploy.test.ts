import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { environmentFor, loadMapping, plan } from './deploy.mjs';
import { nextVersion } from './release.mjs';

function repoWith(apps: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'deploy-plan-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  for (const app of apps) {
    mkdirSync(join(root, app), { recursive: true });
    writeFileSync(join(root, app, 'package.json'), '{}');
  }
  return root;
}

describe('release tags', () => {
  it('maps vX.Y.Z to production and vX.Y.Z-staging to staging', () => {
    expect(environmentFor('v1.2.3')).toBe('production');
    expect(environmentFor('v1.2.3-staging')).toBe('staging');
  });

  it.each(['1.2.3', 'v1.2', 'v1.2.3-rc.1', 'v1.2.3-staging2', ''])(
    'refuses %j as a release tag',
    (tag) => {
      expect(() => environmentFor(tag)).toThrow(/is not a release tag: expected vX\.Y\.Z/);
    },
  );

  it('bumps versions by the largest changeset bump', () => {
    expect(nextVersion('1.2.3', 'patch')).toBe('1.2.4');
    expect(nextVersion('1.2.3', 'minor')).toBe('1.3.0');
    expect(nextVersion('1.2.3', 'major')).toBe('2.0.0');
  });
});

describe('deploy plan', () => {
  it('deploys every mapped app present in the repo to its production service', () => {
    const root = repoWith(['apps/api', 'apps/webhook-service', 'apps/telemetry-collector']);
    const p = plan('v2.0.0', root);
    expect(p.environment).toBe('production');
    expect(p.deploys.map((d: { service: string }) => d.service)).toEqual([
      'q-job-api',
      'q-webhook',
      'q-telcollect',
    ]);
    expect(p.deploys[0]?.command).toEqual([
      'railway',
      'up',
      '--ci',
      '--service',
      'q-job-api',
      '--environment',
      'production',
    ]);
    expect(p.skipped).toEqual([]);
    expect(p.workerBundle).toBe('github-release-asset');
  });

  it('deploys staging tags to the stg. services only', () => {
    const root = repoWith(['apps/api', 'apps/webhook-service', 'apps/telemetry-collector']);
    const p = plan('v2.0.0-staging', root);
    expect(p.environment).toBe('staging');
    expect(p.deploys.map((d: { service: string }) => d.service)).toEqual([
      'stg.q-job-api',
      'stg.q-webhook',
      'stg.q-telcollect',
    ]);
    for (const d of p.deploys) expect(d.command).toContain('staging');
  });

  it('lists apps that are not in the repository as skipped, never silently', () => {
    const p = plan('v1.0.0', repoWith(['apps/api']));
    expect(p.deploys.map((d: { service: string }) => d.service)).toEqual(['q-job-api']);
    expect(p.skipped).toEqual([
      { app: 'apps/webhook-service', service: 'q-webhook' },
      { app: 'apps/telemetry-collector', service: 'q-telcollect' },
    ]);
  });

  it('keeps production and staging service maps in one file, one-to-one', () => {
    const { environments } = loadMapping();
    const prod = Object.keys(environments.production.services);
    const stg = Object.keys(environments.staging.services);
    expect(stg).toEqual(prod);
    for (const app of prod) {
      expect(environments.staging.services[app]).toBe(
        `stg.${environments.production.services[app]}`,
      );
    }
  });
});
