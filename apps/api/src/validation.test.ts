import { describe, expect, it } from 'vitest';
import {
  jsonDepth,
  listJobsQuery,
  parseOrThrow,
  RequestValidationError,
  submitJobSchema,
} from './validation.js';

const schema = submitJobSchema(['simulation', 'openai']);

function issues(body: unknown) {
  try {
    parseOrThrow(schema, body);
  } catch (error) {
    if (error instanceof RequestValidationError) return error.issues;
    throw error;
  }
  return [];
}

describe('submit body', () => {
  it('accepts a full body and fills defaults', () => {
    expect(parseOrThrow(schema, { service_required: 'simulation' })).toEqual({
      service_required: 'simulation',
      priority: 0,
      payload: {},
    });
    const full = {
      service_required: 'openai',
      priority: 10,
      payload: { prompt: 'hi' },
      workflow_id: 'wf-1',
      step: 2,
      max_attempts: 3,
      requirements: {
        models: ['sdxl'],
        hardware: { gpu_memory_gb: 24 },
        customer_isolation: 'strict',
        region: 'eu',
        not: { spot: true },
      },
    };
    expect(parseOrThrow(schema, full)).toEqual(full);
  });

  it.each([
    [{ service_required: 'simulation', extra: 1 }, 'extra', 'is not a known field'],
    [{ service_required: 'nope' }, 'service_required', 'must be one of: simulation, openai'],
    [{}, 'service_required', 'is required: the service that runs the job'],
    [{ service_required: 'simulation', priority: -1 }, 'priority', 'must not be negative'],
    [{ service_required: 'simulation', priority: 1.5 }, 'priority', 'must be a whole number'],
    [{ service_required: 'simulation', priority: '5' }, 'priority', 'must be a number'],
    [{ service_required: 'simulation', payload: [] }, 'payload', 'must be a JSON object'],
    [{ service_required: 'simulation', max_attempts: 0 }, 'max_attempts', 'must be at least 1'],
    [
      { service_required: 'simulation', workflow_id: 'has space' },
      'workflow_id',
      'must be 1-128 characters',
    ],
    [
      { service_required: 'simulation', requirements: { hardware: { gpu_memory_gb: -2 } } },
      'requirements.hardware.gpu_memory_gb',
      'must not be negative',
    ],
    [
      { service_required: 'simulation', requirements: { hardware: { vram: 2 } } },
      'requirements.hardware.vram',
      'is not a known field',
    ],
    [
      { service_required: 'simulation', requirements: { 'Bad Name': 1 } },
      'requirements.Bad Name',
      'lower_snake_case',
    ],
    [
      { service_required: 'simulation', requirements: { customer_isolation: 'maybe' } },
      'requirements.customer_isolation',
      'must be one of strict, loose, none',
    ],
  ])('rejects %j naming %s', (body, field, message) => {
    const found = issues(body);
    expect(found.map((i) => i.field)).toContain(field);
    expect(found.find((i) => i.field === field)?.message).toContain(message);
  });

  it('rejects payloads nested deeper than the limit', () => {
    let deep: unknown = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(issues({ service_required: 'simulation', payload: deep })[0]).toEqual({
      field: 'payload',
      message: 'must not nest deeper than 32 levels',
    });
  });
});

describe('jsonDepth', () => {
  it('counts object and array levels and stops at the limit', () => {
    expect(jsonDepth(1, 10)).toBe(1);
    expect(jsonDepth({ a: [{ b: 1 }] }, 10)).toBe(3);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 5)).toBe(6);
  });
});

describe('list query', () => {
  it('parses limit and cursor', () => {
    expect(
      parseOrThrow(listJobsQuery, { limit: '10', cursor: '0000000000000042', status: 'failed' }),
    ).toEqual({ limit: 10, cursor: '0000000000000042', status: 'failed' });
    expect(parseOrThrow(listJobsQuery, {})).toEqual({ limit: 50 });
  });
  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ status: 'done' }, 'status'],
    [{ cursor: 'abc' }, 'cursor'],
    [{ sort: 'asc' }, 'sort'],
  ])('rejects %j naming %s', (query, field) => {
    expect(() => parseOrThrow(listJobsQuery, query)).toThrow(new RegExp(`^${field}: `));
  });
});
