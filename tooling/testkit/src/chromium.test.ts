import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_TEST_ARGS, PLAYWRIGHT_DISABLED_FEATURES } from './chromium.js';

/** The `disabledFeatures` list of the installed playwright-core, from its bundled source. */
function installedPlaywrightList(): string[] {
  const lib = join(
    dirname(createRequire(import.meta.url).resolve('playwright-core/package.json')),
    'lib',
  );
  const source = readFileSync(join(lib, 'coreBundle.js'), 'utf8');
  const block = /disabledFeatures = \[([\s\S]*?)\]\.filter/.exec(source)?.[1];
  if (block === undefined)
    throw new Error(
      `no disabledFeatures list in ${lib}/coreBundle.js: read it anew from playwright-core's chromiumSwitches`,
    );
  return [...block.replaceAll(/\/\/.*$/gm, '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

describe('CHROMIUM_TEST_ARGS', () => {
  it('repeats every feature the installed playwright-core disables (Chromium keeps the last --disable-features)', () => {
    const installed = installedPlaywrightList();
    expect(installed.length).toBeGreaterThan(5);
    expect(installed.filter((f) => !PLAYWRIGHT_DISABLED_FEATURES.includes(f))).toEqual([]);
  });

  it("has one --disable-features switch: playwright-core's features plus the omnibox popups", () => {
    const switches = CHROMIUM_TEST_ARGS.filter((a) => a.startsWith('--disable-features='));
    expect(switches).toHaveLength(1);
    const features = switches[0]!.slice('--disable-features='.length).split(',');
    expect(features).toEqual([
      ...PLAYWRIGHT_DISABLED_FEATURES,
      'WebUIOmniboxPopup',
      'WebUIOmniboxAimPopup',
    ]);
    expect(CHROMIUM_TEST_ARGS).toContain('--no-sandbox');
  });
});
