import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import type { SubmitInput } from './types.js';
import { validateFailure, validateSubmit, validateWorker } from './validation.js';

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

  it('refuses a worker without services or with a bad isolation', () => {
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
