import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, presentEnv, problemsOf, wholeNumber } from './config.js';

const schema = z.object({
  PORT: wholeNumber(1, 65_535).default(3000),
  REDIS_URL: z
    .string({ message: 'is required' })
    .regex(/^redis:\/\//, { message: 'must be a redis:// URL' }),
});

describe('presentEnv', () => {
  it('drops unset and empty variables, so an empty one takes the default', () => {
    expect(presentEnv({ A: 'x', B: '', C: undefined, D: ' ' })).toEqual({ A: 'x', D: ' ' });
    const parsed = schema.parse(presentEnv({ PORT: '', REDIS_URL: 'redis://h:1' }));
    expect(parsed.PORT).toBe(3000);
  });
});

describe('wholeNumber', () => {
  it('accepts a whole number in range, trimmed', () => {
    expect(wholeNumber(1, 10).parse(' 7 ')).toBe(7);
  });
  it.each([
    ['-1', 'must be a whole number between 1 and 10'],
    ['1.5', 'must be a whole number between 1 and 10'],
    ['ten', 'must be a whole number between 1 and 10'],
    ['0', 'must be at least 1'],
    ['11', 'must be at most 10'],
  ])('rejects %j: %s', (value, message) => {
    const result = wholeNumber(1, 10).safeParse(value);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual([message]);
  });
});

describe('problemsOf and ConfigError', () => {
  it('names every bad variable at once and never echoes a value', () => {
    const secret = 'rediss://:hunter2@example.com:6380';
    const result = schema.safeParse(presentEnv({ PORT: '70000', REDIS_URL: secret }));
    expect(result.success).toBe(false);
    const error = new ConfigError(problemsOf(result.error!));
    expect(error.problems).toEqual([
      'PORT must be at most 65535',
      'REDIS_URL must be a redis:// URL',
    ]);
    expect(error.issues).toBe(error.problems);
    expect(error.message).toBe(
      'Invalid configuration:\n  - PORT must be at most 65535\n  - REDIS_URL must be a redis:// URL',
    );
    expect(error.message).not.toContain('hunter2');
    expect(error.name).toBe('ConfigError');
    expect(error).toBeInstanceOf(Error);
  });

  it('says what was read in its first line, and names a missing variable', () => {
    const result = schema.safeParse(presentEnv({}));
    const error = new ConfigError(problemsOf(result.error!), 'worker configuration');
    expect(error.message).toBe('Invalid worker configuration:\n  - REDIS_URL is required');
  });
});
