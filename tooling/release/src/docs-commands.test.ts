import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every command in a shell code block of the README and docs/ that names a pnpm script or a file
 * of this repository must name one that exists: docs that tell a new user to run something that
 * is not there are the first thing they trip over.
 */
const root = join(import.meta.dirname, '../../..');
const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

const PNPM_BUILTINS = new Set([
  'install',
  'i',
  'add',
  'remove',
  'exec',
  'dlx',
  'run',
  'why',
  'list',
  'ls',
  'outdated',
  'update',
  'store',
  'peers',
  'config',
  'changeset',
]);

type Json = { scripts?: Record<string, string>; name?: string };
const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

/** Workspace packages by name, with their folder. */
const packages = new Map<string, { dir: string; scripts: Record<string, string> }>();
for (const group of ['apps', 'packages', 'tooling']) {
  for (const folder of readdirSync(join(root, group))) {
    const file = join(root, group, folder, 'package.json');
    if (!existsSync(file)) continue;
    const json = readJson(file);
    if (json.name)
      packages.set(json.name, { dir: join(group, folder), scripts: json.scripts ?? {} });
  }
}
const rootScripts = readJson(join(root, 'package.json')).scripts ?? {};

function shellBlocks(markdown: string): string[] {
  const lines: string[] = [];
  for (const match of markdown.matchAll(/```(sh|bash|shell|console)\n([\s\S]*?)```/g)) {
    for (const line of match[2]!.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command && !command.startsWith('#')) lines.push(command);
    }
  }
  return lines;
}

/** Problems in one command line: unknown scripts, packages or files. */
function problems(command: string): string[] {
  const out: string[] = [];
  const words = command.split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
  let cwd = '';
  const pnpm = words.indexOf('pnpm');
  if (pnpm !== -1) {
    let i = pnpm + 1;
    let filtered: string | undefined;
    while (words[i]?.startsWith('-')) {
      if (words[i] === '--filter' || words[i] === '-F') filtered = words[++i];
      i++;
    }
    const script = words[i];
    if (filtered !== undefined) {
      const pkg = packages.get(filtered);
      if (!pkg) out.push(`no workspace package ${filtered}`);
      else {
        cwd = pkg.dir;
        if (script && !PNPM_BUILTINS.has(script) && !(script in pkg.scripts))
          out.push(`${filtered} has no script "${script}"`);
      }
    } else if (
      script &&
      !PNPM_BUILTINS.has(script) &&
      !(script in rootScripts) &&
      // `pnpm turbo ...` runs an installed binary.
      !existsSync(join(root, 'node_modules/.bin', script))
    ) {
      out.push(`the root package.json has no script "${script}"`);
    }
  }
  for (const word of words) {
    const path = word.replace(/^['"]|['"]$/g, '');
    if (!/^[\w./-]+\/[\w.-]+\.(ts|mts|mjs|js|json|md|ya?ml|lua)$/.test(path)) continue;
    if (path.includes('://') || path.startsWith('/')) continue;
    if (!existsSync(join(root, cwd, path)) && !existsSync(join(root, path)))
      out.push(`no file ${path}`);
  }
  return out;
}

describe('commands in the docs', () => {
  it.each(docs)('%s names only scripts and files that exist', (doc) => {
    const found = shellBlocks(readFileSync(join(root, doc), 'utf8')).flatMap((command) =>
      problems(command).map((p) => `${p}  (in: ${command})`),
    );
    expect(found).toEqual([]);
  });

  it('catches a missing script and a missing file', () => {
    expect(
      problems('pnpm --filter @jobgate/core exec vitest run test/integration/nope.test.ts'),
    ).toEqual(['no file test/integration/nope.test.ts']);
    expect(problems('pnpm no-such-script')).toEqual([
      'the root package.json has no script "no-such-script"',
    ]);
    expect(problems('pnpm --filter @jobgate/nope test:unit')).toEqual([
      'no workspace package @jobgate/nope',
    ]);
  });
});
