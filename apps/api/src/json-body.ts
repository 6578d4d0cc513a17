import { HttpError } from './http-error.js';

/** A key that would reach `Object.prototype` if the body were merged into an object. */
function forbiddenKey(key: string, value: unknown): boolean {
  if (key === '__proto__') return true;
  return (
    key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value
  );
}

/**
 * Parses a JSON request body. `__proto__` (and `constructor.prototype`) keys are refused by name,
 * so a client learns which key to drop instead of reading "not valid JSON" for valid JSON.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') {
    throw new HttpError(400, 'invalid_json', 'the body is empty; send a JSON object', '(body)');
  }
  // The reviver costs a call per value; only bodies that could spell a forbidden key pay for it
  // (`\u` escapes can spell any key, so they count).
  const suspicious = text.includes('proto') || text.includes('constructor') || text.includes('\\u');
  let forbidden: string | undefined;
  let value: unknown;
  try {
    value = suspicious
      ? JSON.parse(text, (key, v: unknown) => {
          if (forbidden === undefined && forbiddenKey(key, v)) forbidden = key;
          return v;
        })
      : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON', '(body)');
  }
  if (forbidden !== undefined) {
    throw new HttpError(
      400,
      'forbidden_key',
      forbidden === '__proto__'
        ? 'the key "__proto__" is not allowed in a request body; remove it'
        : 'a "constructor" key holding "prototype" is not allowed in a request body; remove it',
      forbidden,
    );
  }
  return value;
}
