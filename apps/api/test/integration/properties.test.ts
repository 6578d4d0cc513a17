import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type Api } from './harness.js';

let api: Api;
let key: string;
beforeAll(async () => {
  api = await startApi({ bodyLimitBytes: 8 * 1024 });
  key = await api.customer('props');
});
afterAll(async () => api.close());

const anything = fc.jsonValue({ maxDepth: 4 });
/** Bodies near the valid shape, so the search reaches deep validation, not only "not an object". */
const nearlyValid = fc.record(
  {
    service_required: fc.oneof(fc.constantFrom('simulation', 'openai', 'nope', ''), anything),
    priority: fc.oneof(fc.integer({ min: -10, max: 2_000_000 }), fc.double(), anything),
    payload: anything,
    workflow_id: fc.oneof(fc.string({ maxLength: 140 }), anything),
    step: fc.oneof(fc.integer(), anything),
    max_attempts: fc.oneof(fc.integer({ min: -1, max: 200 }), anything),
    requirements: fc.oneof(
      fc.record(
        {
          hardware: fc.oneof(
            fc.record(
              { gpu_memory_gb: fc.double(), cpu_cores: fc.integer() },
              { requiredKeys: [] },
            ),
            anything,
          ),
          models: fc.oneof(fc.array(fc.string()), anything),
          customer_isolation: fc.oneof(fc.constantFrom('strict', 'loose', 'none'), anything),
          not: anything,
          region: anything,
        },
        { requiredKeys: [] },
      ),
      anything,
    ),
    customer_id: fc.string(),
    extra: anything,
  },
  { requiredKeys: [] },
);

async function post(raw: string, headers: Record<string, string> = {}) {
  const before = await api.streamLength();
  const response = await api.app.inject({
    method: 'POST',
    url: '/api/jobs',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    payload: raw,
  });
  const after = await api.streamLength();
  return { response, created: after - before };
}

function checkOutcome(
  response: Awaited<ReturnType<typeof post>>['response'],
  created: number,
): void {
  expect(response.statusCode, response.body).toBeLessThan(500);
  const body = response.json();
  if (response.statusCode >= 400) {
    expect(created).toBe(0);
    expect(typeof body.error.code).toBe('string');
    expect(typeof body.error.message).toBe('string');
    if (response.statusCode === 400 && body.error.code === 'validation_error')
      expect(typeof body.error.field).toBe('string');
  } else {
    expect(response.statusCode).toBe(201);
    expect(created).toBe(1);
    expect(body.job.customer_id).toBe('props');
  }
}

describe('POST /api/jobs never answers 5xx and stores nothing on 4xx', () => {
  it('for any JSON value', async () => {
    await fc.assert(
      fc.asyncProperty(anything, async (value) => {
        const { response, created } = await post(JSON.stringify(value));
        checkOutcome(response, created);
      }),
      { numRuns: 150 },
    );
  });

  it('for bodies close to the valid shape', async () => {
    await fc.assert(
      fc.asyncProperty(nearlyValid, async (value) => {
        const { response, created } = await post(JSON.stringify(value));
        checkOutcome(response, created);
        // A body with a field the API does not know is never accepted.
        if ('extra' in value || 'customer_id' in value) expect(response.statusCode).toBe(400);
      }),
      { numRuns: 300 },
    );
  });

  it('for arbitrary bytes and Idempotency-Key headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.option(fc.string({ minLength: 1, maxLength: 300 })),
        async (raw, idem) => {
          const headers: Record<string, string> = {};
          // Header values must be valid HTTP; anything else never reaches the server.
          if (idem !== null && /^[\t\x20-\x7e]*$/.test(idem)) headers['idempotency-key'] = idem;
          const { response, created } = await post(raw, headers);
          checkOutcome(response, created);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('read routes never answer 5xx', () => {
  it('for any job id and list query', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.dictionary(
          fc.constantFrom('status', 'workflow_id', 'limit', 'cursor', 'x'),
          fc.string({ maxLength: 40 }),
          { maxKeys: 4 },
        ),
        async (id, query) => {
          const byId = await api.app.inject({
            method: 'GET',
            url: `/api/jobs/${encodeURIComponent(id)}`,
            headers: { authorization: `Bearer ${key}` },
          });
          expect(byId.statusCode, byId.body).toBeLessThan(500);
          expect([200, 400, 404]).toContain(byId.statusCode);
          const listed = await api.app.inject({
            method: 'GET',
            url: `/api/jobs?${new URLSearchParams(query).toString()}`,
            headers: { authorization: `Bearer ${key}` },
          });
          expect(listed.statusCode, listed.body).toBeLessThan(500);
          const workflow = await api.app.inject({
            method: 'GET',
            url: `/api/workflows/${encodeURIComponent(id)}`,
            headers: { authorization: `Bearer ${key}` },
          });
          expect(workflow.statusCode, workflow.body).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});
