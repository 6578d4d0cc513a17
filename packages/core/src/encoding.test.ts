import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, priorityKey, requirementSignature } from './encoding.js';

describe('priorityKey', () => {
  it('orders higher priorities first byte-wise, exactly, across the whole safe integer range', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.maxSafeInteger(), (a, b) => {
        fc.pre(a !== b);
        const [ka, kb] = [priorityKey(a), priorityKey(b)];
        expect(ka).toHaveLength(17);
        expect(ka < kb).toBe(a > b);
      }),
    );
  });

  it('keeps neighbours above 2^53 apart, where a float score would merge them', () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(priorityKey(max) < priorityKey(max - 1)).toBe(true);
    expect(priorityKey(-max) > priorityKey(-max + 1)).toBe(true);
  });

  it('refuses non-integers', () => {
    expect(() => priorityKey(1.5)).toThrow(RangeError);
    expect(() => priorityKey(2 ** 60)).toThrow(/safe integer/);
  });
});

describe('requirementSignature', () => {
  it('is the same for equal requirements written in a different key order', () => {
    expect(
      requirementSignature({ models: ['a'], hardware: { ram_gb: 4, cpu_cores: 2 } }, 'acme'),
    ).toBe(requirementSignature({ hardware: { cpu_cores: 2, ram_gb: 4 }, models: ['a'] }, 'acme'));
    expect(canonicalJson({ b: 1, a: { d: 1, c: 2 } })).toBe('{"a":{"c":2,"d":1},"b":1}');
  });

  it('keeps arrays in order, sorts the objects inside them, and leaves undefined values out', () => {
    expect(canonicalJson([{ b: 1, a: 2 }, 'x'])).toBe('[{"a":2,"b":1},"x"]');
    expect(canonicalJson({ models: ['b', 'a'], gone: undefined })).toBe('{"models":["b","a"]}');
    expect(requirementSignature({ models: ['a', 'b'] }, 'acme')).not.toBe(
      requirementSignature({ models: ['b', 'a'] }, 'acme'),
    );
  });

  it('differs by customer and by requirements, and is hex', () => {
    const base = requirementSignature({ models: ['a'] }, 'acme');
    expect(base).toMatch(/^[0-9a-f]{20}$/);
    expect(requirementSignature({ models: ['a'] }, 'globex')).not.toBe(base);
    expect(requirementSignature({ models: ['b'] }, 'acme')).not.toBe(base);
    expect(requirementSignature({}, undefined)).toBe(requirementSignature(undefined, undefined));
  });
});
