import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from './http-error.js';
import { parseJsonBody } from './json-body.js';

function refusal(text: string): HttpError {
  try {
    parseJsonBody(text);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error(`accepted ${text}`);
}

describe('parseJsonBody', () => {
  it('parses what JSON.parse parses, keys and all', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        // fast-check favours "__proto__" and "constructor" keys: those are refused, tested below.
        if (text.includes('"__proto__"') || text.includes('"constructor"')) return;
        expect(parseJsonBody(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it.each([
    ['{"__proto__":{"polluted":true}}', '__proto__'],
    ['{"a":[{"b":{"__proto__":1}}]}', '__proto__'],
    ['{"\\u005f\\u005fproto\\u005f\\u005f":{}}', '__proto__'],
    ['{"constructor":{"prototype":{"x":1}}}', 'constructor'],
  ])('refuses %s naming the key', (text, key) => {
    const error = refusal(text);
    expect(error.statusCode).toBe(400);
    expect(error.code).toBe('forbidden_key');
    expect(error.field).toBe(key);
    expect(error.message).toContain(`"${key}"`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps a plain "constructor" field (only constructor.prototype reaches a prototype)', () => {
    expect(parseJsonBody('{"constructor":"Ada"}')).toEqual({ constructor: 'Ada' });
  });

  it('tells an empty body from a malformed one', () => {
    expect(refusal('  ').message).toContain('empty');
    expect(refusal('{"a":').message).toBe('the body is not valid JSON');
  });
});
