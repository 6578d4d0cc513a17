#!/usr/bin/env node
// Deploys every service of a release to Railway, from the mapping in ../railway-services.json.
// `deploy.mjs --tag v1.2.3 [--dry-run]`: v1.2.3 -> production, v1.2.3-staging -> staging.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { $, argv } from 'zx';

export function environmentFor(tag) {
  if (/^v\d+\.\d+\.\d+$/.test(tag)) return 'production';
  if (/^v\d+\.\d+\.\d+-staging$/.test(tag)) return 'staging';
  throw new Error(
    `'${tag}' is not a release tag: expected vX.Y.Z (production) or vX.Y.Z-staging (staging)`,
  );
}

export function loadMapping() {
  return JSON.parse(readFileSync(new URL('../railway-services.json', import.meta.url), 'utf8'));
}

/** The Railway CLI calls for a tag; apps not (yet) in the repository are listed as skipped. */
export function plan(tag, root) {
  const environment = environmentFor(tag);
  const target = loadMapping().environments[environment];
  const deploys = [];
  const skipped = [];
  for (const [app, service] of Object.entries(target.services)) {
    if (!existsSync(join(root, app, 'package.json'))) {
      skipped.push({ app, service });
      continue;
    }
    deploys.push({
      app,
      service,
      command: [
        'railway',
        'up',
        '--ci',
        '--service',
        service,
        '--environment',
        target.railwayEnvironment,
      ],
    });
  }
  return { environment, deploys, skipped, workerBundle: target.workerBundle };
}

async function main() {
  const tag = String(argv.tag ?? process.env.GITHUB_REF_NAME ?? '');
  const dryRun = Boolean(argv['dry-run']);
  const root = (await $`git rev-parse --show-toplevel`.quiet()).stdout.trim();
  const p = plan(tag, root);
  console.log(`deploy: ${tag} -> ${p.environment}${dryRun ? ' (dry run)' : ''}`);
  for (const s of p.skipped)
    console.log(`deploy: skip ${s.service}: ${s.app} is not in this repository`);
  if (!dryRun && !process.env.RAILWAY_TOKEN) {
    console.error(
      'deploy: RAILWAY_TOKEN is not set (a Railway project token for the target environment)',
    );
    process.exit(1);
  }
  for (const d of p.deploys) {
    console.log(`deploy: ${d.app} -> ${d.service}: ${d.command.join(' ')}`);
    if (!dryRun) await $({ cwd: root, stdio: 'inherit' })`${d.command}`;
  }
  console.log(`deploy: worker bundle -> ${p.workerBundle} (attached by the release workflow)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(`deploy: failed: ${error.message}`);
    process.exit(1);
  });
}
