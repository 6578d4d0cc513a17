import { startOtlpReceiver, startWebhookReceiver, waitFor } from '@jobgate/testkit';
import { WEBHOOK_EVENT_TYPES } from '@jobgate/webhook-service';
import { describe, expect, it } from 'vitest';
import { submitAll } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { eventTimelines, judge, readEvents, settle } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { judgeSpans, judgeWebhooks, readDeliveries } from '../../src/receivers.js';
import { startChaosStack, type ChaosStack } from '../../src/stack.js';

/** Jobs per scenario, submitted as a steady stream over SUBMIT_WINDOW_MS so the outage hits it. */
const JOBS = scaled(800, 60);
const SUBMIT_WINDOW_MS = 12_000;
const WORKERS = 2;
/**
 * The exporter retries a refused connection by itself until its timeout; an outage longer than
 * the timeout makes exports fail, so the collector's own backoff (same batch, nothing newer read,
 * nothing acknowledged) is what carries the spans over it.
 */
const OTLP_TIMEOUT_MS = 4_000;
const OTLP_DOWN_MIN_MS = 6_000;

/** 10 % fail once with a 503 (a retry: more events, a second attempt span); some in workflows. */
function jobBodies(random: () => number) {
  return Array.from({ length: JOBS }, (_, i) => ({
    service_required: 'simulation',
    max_attempts: 5,
    ...(random() < 0.3 ? { workflow_id: `wf-${i % 7}`, step: i } : {}),
    payload: {
      duration_ms: between(random, 20, 150),
      steps: 1,
      ...(random() < 0.1
        ? { fail: { message: 'upstream busy', http_status: 503, on_attempts: [1] } }
        : {}),
    },
  }));
}

/**
 * The outage: once `started()` holds (the receiver has taken something), waits a seeded 1-3 s,
 * takes the receiver down for a seeded `minMs`-`maxMs`, brings it back. Returns what it did.
 */
async function outage(
  random: () => number,
  started: () => boolean,
  receiver: { down(): Promise<void>; up(): Promise<void> },
  minMs: number,
  maxMs: number,
): Promise<{ downMs: number; downAt: number; upAt: number }> {
  const lead = between(random, 1_000, 3_000);
  const length = between(random, minMs, maxMs);
  await waitFor(started, { timeoutMs: 60_000, intervalMs: 20, what: 'the first receipts' });
  await new Promise((resolve) => setTimeout(resolve, lead));
  const downAt = Date.now();
  await receiver.down();
  await new Promise((resolve) => setTimeout(resolve, length));
  await receiver.up();
  const upAt = Date.now();
  return { downMs: upAt - downAt, downAt, upAt };
}

/** A counter from a Prometheus `/metrics` text (sum over its label sets). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

async function jobsAndAttempts(stack: ChaosStack, ids: readonly string[]) {
  const jobs = new Map<string, { attempts: number }>();
  for (const id of ids) {
    const job = await stack.queue.get(id);
    if (job) jobs.set(id, { attempts: job.attempts });
  }
  return jobs;
}

// The two receivers' scenarios share nothing (each its own stack, receiver and ports) and mostly
// wait (a 12 s stream of submits, the outage, retries), so they run at the same time.
describe.concurrent('receivers down, then back', () => {
  it(`webhook receiver down for 3-6 s, then back: ${JOBS} jobs' events each delivered under one webhook-id, identical copies, none missing, in order per job`, async () => {
    const random = seededRandom(chaosConfig.seed + 6);
    const bodies = jobBodies(random);
    await using receiver = await startWebhookReceiver();
    await using stack = await startChaosStack({
      name: 'webhook-receiver-down',
      workers: WORKERS,
      workerEnv: { WORKER_CONCURRENCY: '4' },
      apiEnv: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
    });
    const key = await stack.customer('acme');
    const registered = await fetch(`${stack.apiUrl}/api/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url('/acme'), events: ['*'] }),
    });
    const created = (await registered.json()) as { webhook: { id: string }; secret: string };
    expect(registered.status, JSON.stringify(created)).toBe(201);
    // Two instances share the stream and the schedule; retries within seconds (10 attempts over
    // ~12 s, more than the outage), a sender timeout that a loaded machine does not hit by accident.
    const webhookEnv = {
      WEBHOOK_RETRY_SCHEDULE_MS: '0,250,500,1000,2000,2000,2000,2000,2000,2000',
      WEBHOOK_TIMEOUT_MS: '10000',
      WEBHOOK_LEASE_MS: '25000',
    };
    await stack.startWebhookService(webhookEnv);
    await stack.startWebhookService(webhookEnv);

    const started = Date.now();
    const [submitted, fault] = await Promise.all([
      submitAll(stack.apiUrl, key, bodies, 4, 120_000, SUBMIT_WINDOW_MS),
      outage(random, () => receiver.accepted().length >= 20, receiver, 3_000, 6_000),
    ]);
    const ids = submitted.ids;
    const settled = await settle(stack.queue, ids.length, 120_000);
    // Every subscribed event of the stream has a delivery that succeeded (bounded; never throws).
    const endpoint = { id: created.webhook.id, customer: 'acme', secret: created.secret };
    let delivered: boolean;
    try {
      await waitFor(
        async () => {
          const [events, deliveries] = await Promise.all([
            readEvents(stack.redis, stack.namespace),
            readDeliveries(stack.redis, stack.namespace),
          ]);
          const done = new Set(
            deliveries.filter((d) => d.status === 'succeeded').map((d) => d.event_id),
          );
          const expected = events.filter(
            (e) =>
              e.customer_id === 'acme' &&
              (WEBHOOK_EVENT_TYPES as readonly string[]).includes(e.type),
          );
          return (
            expected.length > 0 &&
            expected.every((e) => done.has(e.id)) &&
            deliveries.every((d) => d.status === 'succeeded')
          );
        },
        { timeoutMs: 120_000, intervalMs: 500, what: 'every event delivered' },
      );
      delivered = true;
    } catch {
      delivered = false;
    }
    const verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);
    const hooks = await judgeWebhooks(
      stack.redis,
      stack.namespace,
      verdict.events,
      receiver,
      endpoint,
    );
    const passed =
      settled &&
      delivered &&
      verdict.problems.length === 0 &&
      hooks.problems.length === 0 &&
      hooks.failedAttempts > 0;
    record({
      order: 60,
      scenario: 'webhook receiver down',
      jobs: verdict.jobs,
      faults: `receiver down ${(fault.downMs / 1000).toFixed(1)} s (connection refused), 2 service instances`,
      completedOnce: verdict.completedOnce,
      duplicated: verdict.duplicated.length,
      lost: verdict.lost.length,
      timeMs: Date.now() - started,
      notes:
        `${hooks.expected} events → ${hooks.delivered} delivered under one webhook-id each, ` +
        `missing ${hooks.missing.length}, two ids ${hooks.twoIds.length}, differing copies ${hooks.differing.length}, ` +
        `bad signatures ${hooks.badSignature.length}, out of order ${hooks.outOfOrder.length}; ` +
        `${hooks.failedAttempts} failed attempts retried (max ${hooks.maxAttempts} attempts), ` +
        `${hooks.resent} ids accepted twice (identical), ${hooks.requests} requests received`,
      passed,
    });
    const explain = `${[...verdict.problems, ...hooks.problems].slice(0, 30).join('\n')}\n${verdict.timelines()}\n${hooks.timelines()}\n${settled && delivered ? '' : `not settled or not delivered within 120 s\n${stack.logs()}`}`;
    expect(settled, explain).toBe(true);
    expect(verdict.problems, explain).toEqual([]);
    expect(hooks.problems, explain).toEqual([]);
    expect(delivered, explain).toBe(true);
    expect(hooks.delivered, explain).toBe(hooks.expected);
    expect(hooks.failedAttempts, 'the outage made deliveries fail and retry').toBeGreaterThan(0);
  });

  it(`OTLP receiver down for 6-9 s, then back: ${JOBS} jobs' spans each exported once, none lost, none partial, every entry acknowledged`, async () => {
    const random = seededRandom(chaosConfig.seed + 66);
    const bodies = jobBodies(random);
    await using receiver = await startOtlpReceiver();
    await using stack = await startChaosStack({
      name: 'otlp-receiver-down',
      workers: WORKERS,
      workerEnv: { WORKER_CONCURRENCY: '4' },
    });
    const key = await stack.customer('acme');
    const collector = await stack.startCollector(receiver.url, {
      OTEL_EXPORTER_OTLP_TIMEOUT: String(OTLP_TIMEOUT_MS),
      TELEMETRY_BLOCK_MS: '200',
      TELEMETRY_SWEEP_INTERVAL_MS: '200',
      TELEMETRY_SETTLE_MS: '1000',
      TELEMETRY_BACKOFF_BASE_MS: '100',
      TELEMETRY_BACKOFF_MAX_MS: '1000',
      TELEMETRY_METRIC_INTERVAL_MS: '1000',
      DEPLOYMENT_ENVIRONMENT: 'chaos',
    });

    const started = Date.now();
    const [submitted, fault] = await Promise.all([
      submitAll(stack.apiUrl, key, bodies, 4, 120_000, SUBMIT_WINDOW_MS),
      outage(
        random,
        () => receiver.spans.length >= 20,
        receiver,
        OTLP_DOWN_MIN_MS,
        OTLP_DOWN_MIN_MS + 3_000,
      ),
    ]);
    const ids = submitted.ids;
    const settled = await settle(stack.queue, ids.length, 120_000);
    const jobs = await jobsAndAttempts(stack, ids);
    const expectedSpans = [...jobs.values()].reduce((n, j) => n + 1 + j.attempts, 0);
    const pendingEntries = async (): Promise<number> =>
      Number(
        (
          (await stack.redis.xpending(`{${stack.namespace}}:events`, 'telemetry-collector')) as [
            number,
          ]
        )[0],
      );
    let exported: boolean;
    try {
      await waitFor(
        async () => receiver.spansById().size >= expectedSpans && (await pendingEntries()) === 0,
        { timeoutMs: 120_000, intervalMs: 500, what: `${expectedSpans} spans, every entry acked` },
      );
      exported = true;
    } catch {
      exported = false;
    }
    const failures = await metric(collector.url, 'jobgate_collector_export_failures_total');
    const openRecords = (await stack.redis.keys(`{${stack.namespace}}:otel:*:job:*`)).length;
    const pending = await pendingEntries();
    const verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);
    const spans = judgeSpans(receiver, jobs);
    // Jobs that ended while the receiver was down: their spans had to wait for it.
    const endedDuringOutage = verdict.events.filter(
      (e) => e.type === 'job.completed' && e.timestamp >= fault.downAt && e.timestamp < fault.upAt,
    ).length;
    const passed =
      settled &&
      exported &&
      verdict.problems.length === 0 &&
      spans.problems.length === 0 &&
      pending === 0 &&
      openRecords === 0 &&
      endedDuringOutage > 0 &&
      failures > 0;
    record({
      order: 61,
      scenario: 'OTLP receiver down',
      jobs: verdict.jobs,
      faults: `receiver down ${(fault.downMs / 1000).toFixed(1)} s (connection refused) while ${endedDuringOutage} jobs ended`,
      completedOnce: verdict.completedOnce,
      duplicated: verdict.duplicated.length,
      lost: verdict.lost.length,
      timeMs: Date.now() - started,
      notes:
        `${spans.expected} spans expected → ${spans.received} received, missing ${spans.missing.length}, ` +
        `duplicated ${spans.duplicated.length}, extra ${spans.extra.length}, partial ${spans.partial.length}; ` +
        `${failures} exports failed (timeout ${OTLP_TIMEOUT_MS / 1000} s) and were retried; entries pending ${pending}, open job records ${openRecords}`,
      passed,
    });
    const explain = `${[...verdict.problems, ...spans.problems].slice(0, 30).join('\n')}\n${verdict.timelines()}\n${eventTimelines(verdict.events, spans.problemJobs)}\n${settled && exported ? '' : `not settled or not exported within 120 s\n${stack.logs()}`}`;
    expect(settled, explain).toBe(true);
    expect(verdict.problems, explain).toEqual([]);
    expect(spans.problems, explain).toEqual([]);
    expect(exported, explain).toBe(true);
    expect(pending, 'every stream entry acknowledged').toBe(0);
    expect(openRecords, 'no job record left open in Redis').toBe(0);
    expect(endedDuringOutage, 'jobs ended while the receiver was down').toBeGreaterThan(0);
    expect(failures, 'the outage made exports fail and retry').toBeGreaterThan(0);
  });
});
