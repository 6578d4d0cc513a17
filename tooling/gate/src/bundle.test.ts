import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBundle, bundledCli, cachedBundle } from '../bin/bundle.mjs';

interface Cli {
  answer(): string;
  later(): Promise<string>;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package with an entry, a module it imports, and a lazily imported one; plus a cache dir. */
function project(): { entry: string; cache: string; write: (file: string, text: string) => void } {
  const root = mkdtempSync(join(tmpdir(), 'gate-bundle-'));
  dirs.push(root);
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  write('package.json', '{"type":"module"}');
  write(
    'src/cli.ts',
    "import { value } from './value.js';\nexport const answer = (): string => value;\nexport const later = async (): Promise<string> => (await import('./lazy.js')).lazy;\n",
  );
  write('src/value.ts', "export const value: string = 'one';\n");
  write('src/lazy.ts', "export const lazy: string = 'lazy one';\n");
  return { entry: join(root, 'src/cli.ts'), cache: join(root, 'cache'), write };
}

async function load(url: string | undefined): Promise<Cli> {
  expect(url).toBeDefined();
  return (await import(url!)) as Cli;
}

describe('bundled gate', () => {
  it('reuses the bundle while the sources are unchanged, keeping lazy imports in their own chunk', async () => {
    const { entry, cache } = project();
    const url = await bundledCli(entry, cache);
    const cli = await load(url);
    expect(cli.answer()).toBe('one');
    expect(await cli.later()).toBe('lazy one');
    expect(cachedBundle(entry, cache)).toBe(url);
    expect(await bundledCli(entry, cache)).toBe(url);
    const main = readFileSync(new URL(url!), 'utf8');
    expect(main).not.toContain('lazy one');
  });

  it('never runs a stale bundle: any change to a bundled file, even of the same size, rebuilds it', async () => {
    const { entry, cache, write } = project();
    const first = await bundledCli(entry, cache);
    write('src/value.ts', "export const value: string = 'two';\n");
    expect(cachedBundle(entry, cache)).toBeUndefined();
    const second = await bundledCli(entry, cache);
    expect(second).not.toBe(first);
    expect((await load(second)).answer()).toBe('two');

    write('src/lazy.ts', "export const lazy: string = 'lazy two';\n");
    expect(cachedBundle(entry, cache)).toBeUndefined();
    expect(await (await load(await bundledCli(entry, cache))).later()).toBe('lazy two');
  });

  it('does not trust a bundle whose input is gone or whose entry differs', async () => {
    const { entry, cache, write } = project();
    await buildBundle(entry, cache);
    rmSync(join(dirname(entry), 'lazy.ts'));
    expect(cachedBundle(entry, cache)).toBeUndefined();
    write('src/lazy.ts', "export const lazy: string = 'back';\n");
    await buildBundle(entry, cache);
    expect(cachedBundle(join(dirname(entry), 'value.ts'), cache)).toBeUndefined();
  });

  it('falls back to the sources (undefined) when the bundle cannot be built', async () => {
    const { entry, cache, write } = project();
    write('src/value.ts', 'export const value: string = ;\n');
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args.join(' '));
    try {
      expect(await bundledCli(entry, cache)).toBeUndefined();
    } finally {
      console.error = original;
    }
    expect(errors).toEqual([
      expect.stringMatching(/^gate: running from source \(cli\.ts not bundled: /),
    ]);
  });
});
