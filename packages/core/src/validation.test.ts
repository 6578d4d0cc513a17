import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import type { SubmitInput } from './types.js';
import {
  validateFailure,
  validateId,
  validateLeaseMs,
  validateProgress,
  validateSubmit,
  validateWorker,
} from './validation.js';

function issue(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('validateSubmit', () => {
  it('accepts a full job and defaults priority to 0', () => {
    const job = validateSubmit({
      service_required: 'comfyui',
      payload: { prompt: 'x' },
      customer_id: 'acme',
      requirements: {
        hardware: { gpu_memory_gb: 24 },
        models: ['sdxl'],
        customer_isolation: 'strict',
        region: 'eu',
        not: { spot: true },
      },
    });
    expect(job.priority).toBe(0);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['missing service', { priority: 1 }, /service_required/],
    [
      'fractional priority',
      { service_required: 's', priority: 1.5 },
      /priority must be an integer/,
    ],
    ['priority beyond 2^53', { service_required: 's', priority: 2 ** 60 }, /priority/],
    [
      'hardware as text',
      { service_required: 's', requirements: { hardware: { gpu_memory_gb: 'big' } } },
      /requirements\.hardware\.gpu_memory_gb/,
    ],
    [
      'models not strings',
      { service_required: 's', requirements: { models: [1] } },
      /requirements\.models\.0/,
    ],
    [
      'unknown isolation',
      { service_required: 's', requirements: { customer_isolation: 'total' } },
      /requirements\.customer_isolation/,
    ],
    [
      'object custom requirement',
      { service_required: 's', requirements: { region: { a: 1 } } },
      /requirements\.region/,
    ],
    [
      'strict without customer',
      { service_required: 's', requirements: { customer_isolation: 'strict' } },
      /customer_id is required when requirements\.customer_isolation is 'strict'/,
    ],
    [
      'control characters in a name',
      { service_required: 'a\u0000b' },
      /service_required must not contain control characters/,
    ],
    ['unknown top-level field', { service_required: 's', priorty: 3 }, /priorty|Unrecognized/],
    ['zero max_attempts', { service_required: 's', max_attempts: 0 }, /max_attempts/],
  ])('rejects %s with a message naming the field', (_name, input, message) => {
    const error = issue(() => validateSubmit(input as unknown as SubmitInput));
    expect(error.message).toMatch(message);
    expect(error.message.startsWith('Invalid job:')).toBe(true);
    expect(error.issues.length).toBeGreaterThan(0);
  });

  it('accepts a minimal job, with no payload, and every isolation level', () => {
    expect(validateSubmit({ service_required: 's' })).toEqual({
      service_required: 's',
      priority: 0,
    });
    for (const customer_isolation of ['loose', 'none'] as const)
      expect(
        validateSubmit({ service_required: 's', requirements: { customer_isolation } })
          .requirements,
      ).toEqual({ customer_isolation });
    expect(
      validateSubmit({
        service_required: 's',
        customer_id: 'acme',
        requirements: { customer_isolation: 'strict' },
      }).customer_id,
    ).toBe('acme');
  });

  it('bounds names at 1 to 256 printable characters, space included', () => {
    expect(validateSubmit({ service_required: 'x'.repeat(256) }).service_required).toHaveLength(
      256,
    );
    expect(validateSubmit({ service_required: 'image gen' }).service_required).toBe('image gen');
    expect(issue(() => validateSubmit({ service_required: 'x'.repeat(257) })).message).toBe(
      'Invalid job: service_required must be at most 256 characters',
    );
    expect(issue(() => validateSubmit({ service_required: '' })).message).toBe(
      'Invalid job: service_required must not be empty',
    );
    expect(issue(() => validateSubmit({ service_required: 'ab' })).message).toBe(
      'Invalid job: service_required must not contain control characters',
    );
  });

  it('says why a priority beyond 2^53 is refused', () => {
    expect(
      issue(() => validateSubmit({ service_required: 's', priority: 2 ** 60 })).issues,
    ).toContainEqual({ path: 'priority', message: 'must be a safe integer (|priority| < 2^53)' });
  });

  it('allows up to 1000 attempts', () => {
    expect(validateSubmit({ service_required: 's', max_attempts: 1_000 }).max_attempts).toBe(1_000);
    expect(
      issue(() => validateSubmit({ service_required: 's', max_attempts: 1_001 })).issues[0]?.path,
    ).toBe('max_attempts');
  });

  it('refuses a payload JSON cannot carry', () => {
    for (const payload of [() => 1, 10n, Symbol('s')])
      expect(issue(() => validateSubmit({ service_required: 's', payload })).issues).toEqual([
        { path: 'payload', message: 'must be JSON-serializable' },
      ]);
    expect(validateSubmit({ service_required: 's', payload: [1, 'a', null] }).payload).toEqual([
      1,
      'a',
      null,
    ]);
  });

  it('lists every issue, and names the root when the job is not an object', () => {
    const both = issue(() =>
      validateSubmit({ service_required: '', priority: 1.5 }),
    );
    expect(both.message).toBe(
      'Invalid job: service_required must not be empty; priority must be an integer',
    );
    expect(issue(() => validateSubmit(null as unknown as SubmitInput)).message).toMatch(
      /^Invalid job: \(root\) /,
    );
  });

  it('names the job in a batch', () => {
    expect(issue(() => validateSubmit({ service_required: '' }, 7)).message).toMatch(
      /^Invalid job #7: service_required/,
    );
  });
});

describe('validateWorker', () => {
  it('deduplicates services', () => {
    expect(validateWorker({ worker_id: 'w', services: ['a', 'a', 'b'] }).services).toEqual([
      'a',
      'b',
    ]);
  });

  it('accepts every isolation level of customer access', () => {
    for (const isolation of ['strict', 'loose', 'none'] as const)
      expect(
        validateWorker({ worker_id: 'w', services: ['a'], customer_access: { isolation } })
          .customer_access,
      ).toEqual({ isolation });
  });

  it('refuses a worker without services or with a bad isolation', () => {
    expect(issue(() => validateWorker({ worker_id: 'w', services: [] })).message).toBe(
      'Invalid worker: services must list at least one service',
    );
    expect(issue(() => validateWorker({ worker_id: 'w', services: [] })).message).toMatch(
      /services must list at least one service/,
    );
    expect(
      issue(() =>
        validateWorker({
          worker_id: 'w',
          services: ['a'],
          customer_access: { isolation: 'max' as 'strict' },
        }),
      ).message,
    ).toMatch(/customer_access\.isolation/);
  });
});

describe('validateFailure', () => {
  it('names the failure in its message', () => {
    expect(issue(() => validateFailure({ failure_type: 'X' } as never)).message).toMatch(
      /^Invalid failure: retryable /,
    );
  });

  it('requires retryable and a failure_type', () => {
    expect(issue(() => validateFailure({ failure_type: 'X' } as never)).message).toMatch(
      /retryable/,
    );
    expect(
      issue(() =>
        validateFailure({ retryable: true, failure_type: '', failure_reason: '', message: '' }),
      ).message,
    ).toMatch(/failure_type/);
  });
});

describe('validateProgress', () => {
  it('takes a percent from 0 to 100 and a message up to 10,000 characters', () => {
    expect(validateProgress({ percent: 0 })).toEqual({ percent: 0 });
    expect(validateProgress({ percent: 100, message: 'x'.repeat(10_000) })).toEqual({
      percent: 100,
      message: 'x'.repeat(10_000),
    });
    expect(validateProgress({})).toEqual({});
  });

  it('refuses a percent outside 0-100 and a longer message', () => {
    expect(issue(() => validateProgress({ percent: 101 })).message).toMatch(
      /^Invalid progress: percent /,
    );
    expect(issue(() => validateProgress({ percent: -1 })).issues[0]?.path).toBe('percent');
    expect(issue(() => validateProgress({ message: 'x'.repeat(10_001) })).issues[0]?.path).toBe(
      'message',
    );
  });
});

describe('validateLeaseMs', () => {
  it('takes a positive whole number of milliseconds', () => {
    expect(validateLeaseMs(1)).toBe(1);
    expect(validateLeaseMs(30_000)).toBe(30_000);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s', (leaseMs) => {
    const error = issue(() => validateLeaseMs(leaseMs));
    expect(error.message).toBe(`Invalid leaseMs: must be a positive integer (got ${leaseMs})`);
    expect(error.issues).toEqual([{ path: 'leaseMs', message: 'must be a positive integer' }]);
  });
});

describe('validateId', () => {
  it('takes a non-empty printable string', () => {
    expect(validateId('job-1 a', 'jobId')).toBe('job-1 a');
  });

  it.each([
    ['empty', ''],
    ['a control character', 'a\u0000'],
    ['not a string', 42 as unknown as string],
  ])('refuses %s, naming the field', (_what, value) => {
    const error = issue(() => validateId(value, 'jobId'));
    expect(error.message).toBe(
      'Invalid jobId: must be a non-empty string without control characters',
    );
    expect(error.issues).toEqual([
      { path: 'jobId', message: 'must be a non-empty string without control characters' },
    ]);
  });
});
