import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LIBRARY_VERSION } from '../installer.js';
import { LIBRARY_SOURCE } from './library.generated.js';

describe('embedded Lua library', () => {
  it('is exactly jobgate.lua (run `pnpm --filter @jobgate/core gen:lua` after editing it)', () => {
    expect(LIBRARY_SOURCE).toBe(readFileSync(new URL('./jobgate.lua', import.meta.url), 'utf8'));
  });

  it('declares the library name and a numeric version the installer reads', () => {
    expect(LIBRARY_SOURCE.startsWith('#!lua name=jobgate\n')).toBe(true);
    expect(LIBRARY_VERSION).toBeGreaterThanOrEqual(1);
  });

  it('never uses the KEYS command', () => {
    expect(LIBRARY_SOURCE).not.toMatch(/redis\.call\(\s*'KEYS'/i);
  });
});
