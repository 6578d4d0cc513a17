import { describe, expect, it } from 'vitest';
import { LIBRARY_SOURCE } from './lua/library.generated.js';
import { KEY_NAMES, queueKeys } from './keys.js';

describe('queueKeys', () => {
  it('puts every key of a namespace under one hash tag', () => {
    const keys = queueKeys('jq');
    expect(keys.list).toHaveLength(KEY_NAMES.length);
    for (const key of keys.list) expect(key).toMatch(/^\{jq\}:[a-z-]+$/);
    expect(keys.events).toBe('{jq}:events');
    expect(keys.active).toBe('{jq}:active');
  });

  it('lists the keys in the order the Lua header documents', () => {
    KEY_NAMES.forEach((name, i) => {
      expect(LIBRARY_SOURCE).toMatch(new RegExp(`KEYS\\[${i + 1}\\]\\s+\\{ns\\}:${name}\\s`));
    });
    expect(LIBRARY_SOURCE).toContain(`local NKEYS = ${KEY_NAMES.length}`);
  });

  it('refuses namespaces that would break the hash tag or key layout', () => {
    for (const bad of ['', 'a}b', '{x}', 'with space', 'x'.repeat(65)]) {
      expect(() => queueKeys(bad)).toThrow(/namespace must be 1-64 characters/);
    }
  });
});
