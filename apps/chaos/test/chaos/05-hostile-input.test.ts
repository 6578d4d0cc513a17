import fc from 'fast-check';
import { waitFor } from '@jobgate/testkit';
import { expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { submitJob } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { judge } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { startChaosStack } from '../../src/stack.js';

const REQUESTS = scaled(10_000, 500);
const WS_FRAMES = scaled(1_000, 100);
const PROBES = 100;
/** One valid job (valid key, valid body) after every VALID_EVERY generated requests. */
const VALID_EVERY = 10;

interface Generated {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function arbitraryRequest(keys: { good: string }): fc.Arbitrary<Generated> {
  const text = fc.string({ maxLength: 40 });
  const id = fc.oneof(fc.uuid(), text, fc.constant('../../etc/passwd'), fc.constant('%00'));
  const path = fc.oneof(
    fc.constant('/api/jobs'),
    id.map((x) => `/api/jobs/${encodeURIComponent(x)}`),
    id.map((x) => `/api/workflows/${encodeURIComponent(x)}`),
    fc
      .record({
        status: text,
        limit: fc.oneof(fc.integer(), text),
        cursor: text,
        workflow_id: text,
      })
      .map(
        (q) =>
          `/api/jobs?${new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString()}`,
      ),
    fc.webPath().map((p) => `/api${p}`),
    fc.constantFrom('/health', '/metrics', '/api', '/api/ws'),
  );
  const jobBody = fc.record(
    {
      service_required: fc.oneof(fc.constant('simulation'), text),
      priority: fc.oneof(fc.integer(), fc.double(), text),
      payload: fc.jsonValue({ maxDepth: 6 }),
      max_attempts: fc.oneof(fc.integer({ min: -5, max: 200 }), text),
      workflow_id: text,
      step: fc.oneof(fc.integer(), text),
      customer_id: text,
      requirements: fc.jsonValue({ maxDepth: 4 }),
      __proto__: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    jobBody.map((b) => JSON.stringify(b)),
    fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.constant('{"payload":' + '['.repeat(200) + ']'.repeat(200) + '}'),
  );
  return fc
    .record(
      {
        method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
        path,
        authorization: fc.oneof(
          fc.constant(`Bearer ${keys.good}`),
          fc.constant(`Bearer ${keys.good.slice(0, -1)}x`),
          fc.constant('Bearer jgk_0000000000000000_' + 'a'.repeat(43)),
          text.map((t) => `Bearer ${t}`),
          text,
        ),
        contentType: fc.oneof(
          fc.constant('application/json'),
          fc.constant('text/plain'),
          fc.constant('application/json; charset=utf-16'),
          text,
        ),
        idempotencyKey: fc.option(text, { nil: undefined }),
        body: fc.option(body, { nil: undefined }),
      },
      { requiredKeys: ['method', 'path', 'authorization', 'contentType'] },
    )
    .map((r) => ({
      method: r.method,
      path: r.path,
      headers: {
        authorization: r.authorization,
        'content-type': r.contentType,
        ...(r.idempotencyKey !== undefined ? { 'idempotency-key': r.idempotencyKey } : {}),
      },
      ...(r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD'
        ? { body: r.body }
        : {}),
    }));
}

function validHeaderValue(value: string): boolean {
  // fetch refuses some header bytes before sending; those cannot reach the server at all.
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

async function openSocket(url: string, key: string) {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
  const messages: any[] = [];
  socket.on('message', (data) => {
    try {
      messages.push(JSON.parse((data as Buffer).toString('utf8')));
    } catch {
      messages.push({ unparsed: (data as Buffer).toString('utf8') });
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, messages };
}

it(`hostile input: ${REQUESTS} generated requests with valid jobs mixed in and ${WS_FRAMES} WebSocket frames, no 5xx, the valid jobs accepted and completed, nothing stored from a rejected request; ${PROBES} probes with another customer's key, no leak`, async () => {
  const random = seededRandom(chaosConfig.seed + 5);
  await using stack = await startChaosStack({
    name: 'hostile-input',
    // The valid jobs mixed into the hostile stream must complete.
    workers: 2,
    workerEnv: { WORKER_CONCURRENCY: '8' },
    // Input handling is what is judged here, not load: no shedding on a busy shared machine.
    apiEnv: { MAX_EVENT_LOOP_DELAY_MS: '0', MAX_IN_FLIGHT: '0' },
  });
  const good = await stack.customer('acme');
  const evil = await stack.customer('mallory');
  const started = Date.now();

  // Jobs of acme's for the probes, one in a workflow.
  const acmeIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const response = await fetch(`${stack.apiUrl}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${good}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        service_required: 'simulation',
        workflow_id: 'wf-acme',
        step: i,
        payload: { secret: `acme-${i}` },
      }),
    });
    acmeIds.push(((await response.json()) as { job: { id: string } }).job.id);
  }

  const generated = fc
    .sample(arbitraryRequest({ good }), { seed: chaosConfig.seed, numRuns: REQUESTS })
    .filter((r) => Object.values(r.headers).every(validHeaderValue));
  // A customer's real traffic in the middle of the attack: valid key, valid body, each with a
  // marker its result must carry back.
  type Valid = { valid: number; body: Record<string, unknown> };
  const requests: (Generated | Valid)[] = [];
  const validBodies: Record<string, unknown>[] = [];
  generated.forEach((r, i) => {
    requests.push(r);
    if (i % VALID_EVERY === VALID_EVERY - 1) {
      const body = {
        service_required: 'simulation',
        priority: between(random, 0, 10),
        ...(random() < 0.3 ? { workflow_id: `wf-valid-${between(random, 1, 5)}` } : {}),
        payload: {
          duration_ms: between(random, 5, 50),
          steps: 1,
          result: { marker: `valid-${validBodies.length}` },
        },
      };
      requests.push({ valid: validBodies.length, body });
      validBodies.push(body);
    }
  });
  const validIds: (string | undefined)[] = new Array<string | undefined>(validBodies.length);
  const validRefused: string[] = [];
  const statuses = new Map<number, number>();
  const fiveXx: string[] = [];
  let created = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        if ('valid' in r) {
          const outcome = await submitJob(stack.apiUrl, good, r.body);
          if (outcome.status === 201 && outcome.id) validIds[r.valid] = outcome.id;
          else
            validRefused.push(
              `valid job ${r.valid}: ${outcome.status} ${outcome.error ?? JSON.stringify(outcome.body)}`,
            );
          continue;
        }
        let status: number;
        try {
          const response = await fetch(`${stack.apiUrl}${r.path}`, {
            method: r.method,
            headers: r.headers,
            ...(r.body !== undefined ? { body: r.body } : {}),
          });
          await response.arrayBuffer();
          status = response.status;
        } catch (error) {
          status = 0;
          fiveXx.push(`${r.method} ${r.path}: ${(error as Error).message}`);
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500)
          fiveXx.push(`${status} ${r.method} ${r.path} ${r.body?.slice(0, 200) ?? ''}`);
        if (status === 201) created++;
      }
    }),
  );
  const stored = Number(await stack.redis.zcard(`{${stack.namespace}}:all`));
  const accepted = validIds.filter((id): id is string => typeof id === 'string');
  // The valid jobs complete (bounded; never throws): the attack did not stop real work.
  const validDone = await waitFor(
    async () =>
      (await Promise.all(accepted.map((id) => stack.queue.get(id)))).every(
        (job) => job?.status === 'completed',
      ),
    { timeoutMs: 60_000, intervalMs: 250, what: `${accepted.length} valid jobs completed` },
  ).then(
    () => true,
    () => false,
  );
  const verdict = await judge(stack.redis, stack.queue, stack.namespace, accepted);
  const wrongResult: string[] = [];
  for (const [i, id] of validIds.entries()) {
    if (!id) continue;
    const job = await stack.queue.get(id);
    const marker = (job?.result as { marker?: unknown } | null | undefined)?.marker;
    if (marker !== `valid-${i}`) wrongResult.push(`${id}: result ${JSON.stringify(job?.result)}`);
  }

  // WebSocket: random frames on an authenticated socket; the server answers or ignores them and
  // keeps serving (a ping still gets its pong).
  const ws = await openSocket(stack.wsUrl, good);
  const frames = fc.sample(
    fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'nope'),
            all: fc.jsonValue({ maxDepth: 1 }),
            job_ids: fc.oneof(
              fc.array(fc.string(), { maxLength: 5 }),
              fc.jsonValue({ maxDepth: 2 }),
            ),
            since: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })),
          },
          { requiredKeys: ['type'] },
        )
        .map((v) => JSON.stringify(v)),
    ),
    { seed: chaosConfig.seed, numRuns: WS_FRAMES },
  );
  for (const frame of frames) ws.socket.send(frame);
  ws.socket.send(JSON.stringify({ type: 'ping' }));
  const wsAlive = await waitFor(() => ws.messages.some((m) => m.type === 'pong'), {
    timeoutMs: 30_000,
    what: 'a pong after the hostile frames',
  }).catch(() => false);
  ws.socket.terminate();

  // Probes with another customer's key: everything of acme's is invisible to mallory.
  const leaks: string[] = [];
  const as = (key: string, method: string, path: string) =>
    fetch(`${stack.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const probeSocket = await openSocket(stack.wsUrl, evil);
  for (let i = 0; i < PROBES; i++) {
    const id = acmeIds[i % acmeIds.length]!;
    const kind = i % 5;
    if (kind === 0) {
      const r = await as(evil, 'GET', `/api/jobs/${id}`);
      const text = await r.text();
      if (r.status !== 404 || text.includes('acme')) leaks.push(`GET ${id}: ${r.status} ${text}`);
    } else if (kind === 1) {
      const r = await as(evil, 'DELETE', `/api/jobs/${id}`);
      const text = await r.text();
      if (r.status !== 404 || text.includes('acme'))
        leaks.push(`DELETE ${id}: ${r.status} ${text}`);
    } else if (kind === 2) {
      const r = await as(evil, 'GET', `/api/jobs?workflow_id=wf-acme&limit=200`);
      const text = await r.text();
      if (text.includes('acme') || acmeIds.some((x) => text.includes(x)))
        leaks.push(`list: ${text.slice(0, 200)}`);
    } else if (kind === 3) {
      const r = await as(evil, 'GET', `/api/workflows/wf-acme`);
      const text = await r.text();
      if (r.status !== 404 || acmeIds.some((x) => text.includes(x)))
        leaks.push(`workflow: ${r.status} ${text.slice(0, 200)}`);
    } else {
      probeSocket.socket.send(JSON.stringify({ type: 'subscribe', job_ids: [id], since: '0-0' }));
    }
  }
  probeSocket.socket.send(JSON.stringify({ type: 'subscribe', all: true, since: '0-0' }));
  probeSocket.socket.send(JSON.stringify({ type: 'ping' }));
  await waitFor(() => probeSocket.messages.some((m) => m.type === 'pong'), {
    timeoutMs: 30_000,
    what: "the probe socket's pong",
  });
  for (const m of probeSocket.messages) {
    const text = JSON.stringify(m);
    if (text.includes('acme') || acmeIds.some((x) => m.type !== 'error' && text.includes(x)))
      leaks.push(`ws: ${text.slice(0, 200)}`);
  }
  probeSocket.socket.terminate();
  // Acme's jobs were not cancelled by mallory's DELETEs (workers run them meanwhile).
  const untouched = (await Promise.all(acmeIds.map((id) => stack.queue.get(id)))).every(
    (job) => job !== null && job.status !== 'cancelled',
  );

  const apiAlive = stack.api.alive();
  const passed =
    fiveXx.length === 0 &&
    validRefused.length === 0 &&
    validDone &&
    verdict.problems.length === 0 &&
    wrongResult.length === 0 &&
    stored === created + accepted.length + acmeIds.length &&
    wsAlive &&
    leaks.length === 0 &&
    untouched &&
    apiAlive;
  record({
    order: 50,
    scenario: 'hostile input',
    jobs: stored,
    faults: `${generated.length} generated requests with ${validBodies.length} valid jobs mixed in, ${frames.length} WebSocket frames, ${PROBES} cross-customer probes`,
    completedOnce: verdict.completedOnce,
    duplicated: verdict.duplicated.length,
    lost: verdict.lost.length,
    timeMs: Date.now() - started,
    notes: `statuses ${[...statuses]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}×${n}`)
      .join(
        ' ',
      )} (generated); 5xx ${fiveXx.length}; valid jobs ${accepted.length}/${validBodies.length} accepted, ${verdict.completedOnce} completed once with their own result; stored ${stored} = ${created} generated 201 + ${accepted.length} valid + ${acmeIds.length} setup: ${stored === created + accepted.length + acmeIds.length ? 'yes' : 'no'}; leaks ${leaks.length}`,
    passed,
  });
  expect(fiveXx, 'no 5xx and no dropped connection for any input').toEqual([]);
  expect(validRefused, 'every valid job in the attack is accepted').toEqual([]);
  const explain = `${verdict.problems.slice(0, 20).join('\n')}\n${verdict.timelines()}`;
  expect(validDone, explain).toBe(true);
  expect(verdict.problems, explain).toEqual([]);
  expect(wrongResult, 'each valid job completed with its own result').toEqual([]);
  expect(stored, 'nothing stored from a rejected request').toBe(
    created + accepted.length + acmeIds.length,
  );
  expect(wsAlive, 'the WebSocket still answers after hostile frames').toBe(true);
  expect(leaks, "nothing of another customer's is visible").toEqual([]);
  expect(untouched, "another customer's DELETE changes nothing").toBe(true);
  expect(apiAlive).toBe(true);
});
