import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RESERVED_REQUIREMENT_NAMES } from './types.js';

const luaDir = fileURLToPath(new URL('./lua', import.meta.url));

function luaSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? luaSources(join(dir, entry.name))
      : entry.name.endsWith('.lua')
        ? [readFileSync(join(dir, entry.name), 'utf8')]
        : [],
  );
}

describe('one job contract', () => {
  it("the reserved requirement names are the Lua library's KNOWN table, exactly", () => {
    const table = luaSources(luaDir)
      .map((source) => /local KNOWN = \{([^}]*)\}/.exec(source)?.[1])
      .find((body) => body !== undefined);
    expect(table, 'a `local KNOWN = { ... }` table in src/lua').toBeDefined();
    const names = [...table!.matchAll(/\[?'?(\w+)'?\]?\s*=\s*true/g)].map((m) => m[1]);
    expect(names.sort()).toEqual([...RESERVED_REQUIREMENT_NAMES].sort());
  });
});
