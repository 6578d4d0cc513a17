import { describe, expect, it } from 'vitest';
import { LIBRARY_SOURCE } from './lua/library.generated.js';
import { KEY_NAMES, queueKeys, RETIRED_KEY_NAMES, serviceWakeKey, SUBMIT_FIELDS } from './keys.js';

describe('queueKeys', () => {
  it('puts every key of a namespace under one hash tag', () => {
    const keys = queueKeys('jq');
    expect(keys.list).toHaveLength(KEY_NAMES.length);
    for (const key of keys.list) expect(key).toMatch(/^\{jq\}:[a-z-]+$/);
    expect(keys.events).toBe('{jq}:events');
    expect(keys.active).toBe('{jq}:active');
  });

  it('gives each service its wake-up list under the namespace hash tag', () => {
    expect(serviceWakeKey(queueKeys('jq'), 'comfyui')).toBe('{jq}:wake:comfyui');
  });

  it('gives the library its K_* key indexes and F_* submit fields from the same lists', () => {
    KEY_NAMES.forEach((name, i) => {
      const constant = `K_${name.toUpperCase().replace(/-/g, '_')}`;
      expect(LIBRARY_SOURCE).toContain(`local ${constant} = ${i + 1} -- {ns}:${name}\n`);
    });
    expect(LIBRARY_SOURCE).toContain(`local NKEYS = ${KEY_NAMES.length}\n`);
    SUBMIT_FIELDS.forEach((name, i) => {
      expect(LIBRARY_SOURCE).toContain(`local F_${name.toUpperCase()} = ${i + 1}\n`);
    });
    expect(LIBRARY_SOURCE).toContain(`local NFIELDS = ${SUBMIT_FIELDS.length}\n`);
  });

  it('no longer declares the keys retired library versions wrote', () => {
    for (const name of RETIRED_KEY_NAMES) expect(KEY_NAMES).not.toContain(name);
  });

  it('refuses namespaces that would break the hash tag or key layout', () => {
    for (const bad of ['', 'a}b', '{x}', 'with space', 'x'.repeat(65)]) {
      expect(() => queueKeys(bad)).toThrow(/namespace must be 1-64 characters/);
    }
  });
});
