import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleLibrary } from '../../scripts/embed-lua.mjs';
import { LIBRARY_VERSION } from '../installer.js';
import { LIBRARY_SOURCE } from './library.generated.js';

const functionFiles = readdirSync(new URL('./functions/', import.meta.url));

describe('embedded Lua library', () => {
  it('is exactly the assembled src/lua files (run `pnpm --filter @jobgate/core gen:lua` after editing them)', () => {
    expect(LIBRARY_SOURCE).toBe(assembleLibrary());
  });

  it('declares the library name and a numeric version the installer reads', () => {
    expect(LIBRARY_SOURCE.startsWith('#!lua name=jobgate\n')).toBe(true);
    expect(LIBRARY_VERSION).toBeGreaterThanOrEqual(13);
  });

  it('never uses the KEYS command', () => {
    expect(LIBRARY_SOURCE).not.toMatch(/(redis\.p?call|rcall)\(\s*'KEYS'/i);
  });

  it.each(functionFiles)('functions/%s registers one function and documents it', (file) => {
    const source = readFileSync(new URL(`./functions/${file}`, import.meta.url), 'utf8');
    const name = `jobgate_${file.replace(/\.lua$/, '')}`;
    expect(source.match(/redis\.register_function/g)).toHaveLength(1);
    expect(source).toContain(`'${name}'`);
    for (const part of ['KEYS:', 'ARGV:', 'Returns:', 'Events:'])
      expect(source.slice(0, source.indexOf(']]'))).toContain(part);
  });
});
