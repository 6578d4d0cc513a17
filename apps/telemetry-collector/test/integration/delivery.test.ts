import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { startStack, worker, type Stack } from './harness.js';

/**
 * The exporter on the main thread (`TELEMETRY_EXPORT_THREAD=0`), for the cases about what the
 * collector reads, filters, drops, takes over and closes rather than about exports overlapping
 * the next batch: each collector's export thread loads the OTLP SDK anew (about 0.3 CPU-s), and
 * the thread delivers exactly what the main thread's exporter does (export-thread.test.ts). The
 * outage, in-flight, overlapped-commit, read-ahead, settle and headers cases keep the default.
 */
const mainThreadExport = { TELEMETRY_EXPORT_THREAD: '0' };

/** `n` jobs, each claimed and completed: 2n spans. */
async function completeJobs(t: Stack, n: number, workflow?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { id } = await t.queue.submit({
      service_required: 'svc',
      ...(workflow ? { workflow_id: workflow } : {}),
    });
    ids.push(id);
    await t.queue.claim(worker('w1'));
    t.clock.now += 5;
    await t.queue.complete(id, 'w1', {});
  }
  return ids;
}

/** `n` jobs, each failing once (retryable) and then completing: 3n spans, 5n events. */
async function retriedJobs(t: Stack, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { id } = await t.queue.submit({ service_required: 'svc' });
    ids.push(id);
    await t.queue.claim(worker('w1'));
    t.clock.now += 5;
    await t.queue.fail(id, 'w1', {
      retryable: true,
      failure_type: 'network_error',
      failure_reason: 'connection_reset',
      message: 'socket hang up',
      retry_after_ms: 10,
    });
    t.clock.now += 10;
    await t.queue.reapExpired();
    await t.queue.claim(worker('w2'));
    t.clock.now += 5;
    await t.queue.complete(id, 'w2', {});
  }
  return ids;
}

const pendingIn = async (t: Stack, group = 'telemetry-collector'): Promise<number> =>
  Number((await t.redis.xpending(`{${t.namespace}}:events`, group))[0]);

/** Until the receiver holds `spans` distinct spans and every entry is acknowledged. */
async function delivered(t: Stack, spans: number): Promise<void> {
  await waitFor(() => t.receiver.spansById().size === spans, {
    timeoutMs: 15_000,
    what: `${spans} spans`,
  });
  await waitFor(async () => (await pendingIn(t)) === 0, {
    timeoutMs: 5_000,
    what: 'every entry acknowledged',
  });
}

describe('delivery', () => {
  it('receiver down for a while, then back: every span arrives, each exactly once, and nothing is acknowledged before', async () => {
    await using t = await startStack();
    await t.receiver.down();
    const app = await t.collector();
    const ids = await completeJobs(t, 20);
    await waitFor(() => (app.collector?.stats.exportFailures ?? 0) >= 2, {
      timeoutMs: 20_000,
      what: 'the collector to fail exporting and back off',
    });
    // The failed batch stays pending: an outage never acknowledges what was not exported.
    expect(await pendingIn(t)).toBeGreaterThan(0);
    const health = (await (await fetch(`${app.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'degraded', exporting: 'failing' });

    // More work during the outage, then the backend comes back.
    ids.push(...(await completeJobs(t, 10)));
    await t.receiver.up();
    await waitFor(() => t.receiver.spansById().size === ids.length * 2, {
      timeoutMs: 15_000,
      what: `${ids.length * 2} spans after the outage`,
    });
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'every entry acknowledged',
    });
    const copies = [...t.receiver.copies().values()];
    expect(copies.every((n) => n === 1)).toBe(true);
    const jobsSeen = new Set(t.receiver.spans.map((s) => s.attributes['job.id']));
    expect([...jobsSeen].sort()).toEqual([...ids].sort());
    expect(
      ((await (await fetch(`${app.url}/health`)).json()) as Record<string, unknown>).status,
    ).toBe('ok');
  });

  it('two batches in flight: a job split over consecutive batches, the backend failing meanwhile: every span exactly once, every entry acknowledged', async () => {
    await using t = await startStack();
    // Two events per batch: a job's first attempt ends in one batch and the job in the next,
    // which is read, recorded and built while the first is still being exported.
    const ids = await retriedJobs(t, 15);
    const app = await t.collector({ TELEMETRY_BATCH_SIZE: '2' });
    await waitFor(() => t.receiver.spansById().size === ids.length * 3, {
      timeoutMs: 15_000,
      what: `${ids.length * 3} spans`,
    });
    // The backend refuses while more arrives: failed commits with the next batch prepared.
    t.receiver.failWith(503);
    ids.push(...(await retriedJobs(t, 15)));
    await waitFor(() => (app.collector?.stats.exportFailures ?? 0) >= 2, {
      timeoutMs: 20_000,
      what: 'failed exports',
    });
    t.receiver.healthy();
    await waitFor(() => t.receiver.spansById().size === ids.length * 3, {
      timeoutMs: 15_000,
      what: `${ids.length * 3} spans after the failures`,
    });
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'every entry acknowledged',
    });
    // The collector counts an acknowledgement when the XACK's reply is back, which can be just
    // after Redis shows nothing pending: wait for the count too (it never passes the number).
    await waitFor(() => app.collector?.stats.entriesAcked === ids.length * 5, {
      timeoutMs: 5_000,
      what: `${ids.length * 5} entries counted as acknowledged`,
    });
    const copies = t.receiver.copies();
    expect([...copies.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const attempts = t.receiver.spans.filter((s) => s.name.startsWith('attempt'));
    expect(attempts).toHaveLength(ids.length * 2);
  });

  it('overlapped commits: while a batch fails after its export, nothing after it is acknowledged; all of it goes through once Redis accepts', async () => {
    await using t = await startStack();
    // Written before the collector starts, so the batches (two entries each) are known:
    // [r1 r2] [r3 r4] [c1 d1] [c2 p2] [p2 d2] [c3 p3] [p3 d3] [c4 p4] [p4 d4].
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await t.queue.submit({ service_required: 'svc' })).id);
    for (const [i, id] of ids.entries()) {
      await t.queue.claim(worker('w1'));
      t.clock.now += 5;
      if (i > 0) {
        await t.queue.progress(id, 'w1', { percent: 25 });
        await t.queue.progress(id, 'w1', { percent: 75 });
      }
      t.clock.now += 5;
      await t.queue.complete(id, 'w1', {});
    }
    const stream = `{${t.namespace}}:events`;
    const all = (await t.redis.xrange(stream, '-', '+')).map(([id]) => id);
    expect(all).toHaveLength(4 + 2 + 3 * 4);
    // A batch that finishes a job fails after its export, every time it is handled: finalizing
    // removes the job from the `ready` set, a string here (WRONGTYPE). [c2 p2] finishes nothing:
    // alone its commit (just the XACK) would succeed, and it is exported while [c1 d1] fails.
    const ready = `{${t.namespace}}:otel:telemetry-collector:ready`;
    await t.redis.set(ready, 'not a sorted set');
    const app = await t.collector({ TELEMETRY_BATCH_SIZE: '2' });

    const acknowledged = async (): Promise<{ acked: string[]; pending: string[] }> => {
      const groups = (await t.redis.xinfo('GROUPS', stream)) as unknown[][];
      const group = groups[0]!;
      const last = String(group[group.indexOf('last-delivered-id') + 1]);
      const pending = (
        (await t.redis.xpending(stream, 'telemetry-collector', '-', '+', 1000)) as [string][]
      ).map(([id]) => id);
      const read = all.slice(0, all.indexOf(last) + 1);
      return { acked: read.filter((id) => !pending.includes(id)), pending };
    };
    for (const failures of [2, 4]) {
      await waitFor(() => (app.collector?.stats.redisErrors ?? 0) >= failures, {
        timeoutMs: 20_000,
        what: `${failures} failed commits`,
      });
      const { acked, pending } = await acknowledged();
      // Nothing after the failing [c1 d1] is acknowledged, not even [c2 p2] exported beside it.
      // ([c1 d1] itself may be: the XACK in its pipeline runs beside the failing command.)
      expect(acked.filter((id) => all.indexOf(id) >= 6)).toEqual([]);
      expect(pending).toEqual(expect.arrayContaining(all.slice(6, 8)));
    }

    await t.redis.del(ready);
    await delivered(t, ids.length * 2);
    const jobs = new Set(t.receiver.spans.map((s) => s.attributes['job.id']));
    expect([...jobs].sort()).toEqual([...ids].sort());
  });

  it('entries read ahead wait out an outage without being taken over by the collector itself: each handled once', async () => {
    await using t = await startStack();
    await t.receiver.down();
    // The entries are there before the collector starts, so every read finds a batch. A read
    // ahead is sent only while taking over is not due: due every second, taking entries idle for
    // a second, the loop's second batch (well within that second, even when slow) reads ahead,
    // and by recovery, entries read ahead of the failing batch (this consumer's own) are idle
    // past the takeover while it is due. (Due every 100 ms, a loaded machine's loop often never
    // read ahead and the wait below timed out.)
    const ids = await completeJobs(t, 10);
    const app = await t.collector({
      TELEMETRY_BATCH_SIZE: '2',
      TELEMETRY_CLAIM_IDLE_MS: '1000',
      TELEMETRY_CLAIM_INTERVAL_MS: '1000',
    });
    await waitFor(() => (app.collector?.stats.exportFailures ?? 0) >= 2, {
      timeoutMs: 20_000,
      what: 'failed exports',
    });
    const stream = `{${t.namespace}}:events`;
    await waitFor(
      async () => {
        const pending = (await t.redis.xpending(stream, 'telemetry-collector', '-', '+', 100)) as [
          string,
          string,
          number,
        ][];
        return pending.length > 2 && pending.every(([, , idle]) => idle > 1_500);
      },
      { timeoutMs: 20_000, what: 'entries read beyond the failing batch, idle past the takeover' },
    );
    await t.receiver.up();
    await delivered(t, ids.length * 2);
    await waitFor(() => app.collector?.stats.entriesAcked === ids.length * 3, {
      timeoutMs: 5_000,
      what: `${ids.length * 3} entries counted as acknowledged`,
    });
    expect([...t.receiver.copies().values()].every((n) => n === 1)).toBe(true);
  });

  it('a backend answering 503 is retried with backoff until it accepts', async () => {
    await using t = await startStack();
    t.receiver.failWith(503);
    const app = await t.collector(mainThreadExport);
    const ids = await completeJobs(t, 3);
    await waitFor(() => (app.collector?.stats.exportFailures ?? 0) >= 1, {
      timeoutMs: 15_000,
      what: 'a failed export',
    });
    expect(t.receiver.spans).toHaveLength(0);
    t.receiver.healthy();
    await waitFor(() => t.receiver.spansById().size === ids.length * 2, {
      timeoutMs: 15_000,
      what: 'every span once the backend accepts',
    });
  });

  it('sends the configured headers (Dash0 token and dataset)', async () => {
    await using t = await startStack();
    await t.collector({ DASH0_AUTH_TOKEN: 'secret-token', DASH0_DATASET: 'jobs' });
    await completeJobs(t, 1);
    await waitFor(() => t.receiver.spans.length === 2, { timeoutMs: 20_000, what: '2 spans' });
    const request = t.receiver.requests.find((r) => r.path === '/v1/traces')!;
    expect(request.headers.authorization).toBe('Bearer secret-token');
    expect(request.headers['dash0-dataset']).toBe('jobs');
    expect(request.headers['content-type']).toBe('application/x-protobuf');
  });

  it("takes over a crashed instance's entries with XAUTOCLAIM", async () => {
    await using t = await startStack();
    const stream = `{${t.namespace}}:events`;
    await t.redis.xgroup('CREATE', stream, 'telemetry-collector', '0', 'MKSTREAM');
    const ids = await completeJobs(t, 5);
    // A consumer reads everything and dies before acknowledging anything.
    await t.redis.xreadgroup(
      'GROUP',
      'telemetry-collector',
      'dead',
      'COUNT',
      1000,
      'STREAMS',
      stream,
      '>',
    );
    expect(await pendingIn(t)).toBe(15);
    await t.collector({
      ...mainThreadExport,
      TELEMETRY_CONSUMER: 'alive',
      TELEMETRY_CLAIM_IDLE_MS: '1000',
      TELEMETRY_CLAIM_INTERVAL_MS: '200',
    });
    await waitFor(() => t.receiver.spansById().size === ids.length * 2, {
      timeoutMs: 15_000,
      what: "the dead consumer's spans",
    });
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'every entry acknowledged',
    });
  });

  it("a finished job whose job.received is in another consumer's hands waits for it, then is exported whole", async () => {
    await using t = await startStack();
    const stream = `{${t.namespace}}:events`;
    await t.redis.xgroup('CREATE', stream, 'telemetry-collector', '0', 'MKSTREAM');
    const [id] = await completeJobs(t, 1);
    // Another consumer holds job.received (and dies); this one reads the claim and completion.
    await t.redis.xreadgroup(
      'GROUP',
      'telemetry-collector',
      'dead',
      'COUNT',
      1,
      'STREAMS',
      stream,
      '>',
    );
    const app = await t.collector({
      TELEMETRY_CONSUMER: 'alive',
      TELEMETRY_SETTLE_MS: '4000',
      TELEMETRY_CLAIM_IDLE_MS: '1000',
      TELEMETRY_CLAIM_INTERVAL_MS: '100',
    });
    // Acknowledged while waiting: its events are in the job's record, not only in the batch.
    await waitFor(async () => (await pendingIn(t)) === 1, {
      timeoutMs: 5_000,
      what: 'the claim and completion acknowledged, job.received still pending',
    });
    expect(t.receiver.spans).toHaveLength(0);
    await waitFor(() => t.receiver.spansById().size === 2, {
      timeoutMs: 15_000,
      what: 'the job and attempt spans after the settle time',
    });
    const job = t.receiver.spans.find((s) => s.name === 'job svc')!;
    expect(job.attributes['job.id']).toBe(id);
    expect(job.attributes['job.status']).toBe('completed');
    expect(job.attributes['jobgate.partial']).toBeUndefined();
    expect(t.receiver.spans.filter((s) => s.name === 'attempt 1')).toHaveLength(1);
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'every entry acknowledged',
    });
    // The export that sent the spans finalizes the job once the receiver has answered (the
    // receiver records the spans before it answers; with the export thread the answer also
    // crosses threads): wait for it rather than read the open set once.
    await waitFor(async () => (await app.collector?.openSpans()) === 0, {
      timeoutMs: 5_000,
      what: 'the job out of the open set',
    });
  });

  it('records events whose job id and progress message hold newlines and non-ASCII, split over batches', async () => {
    await using t = await startStack();
    const stream = `{${t.namespace}}:events`;
    // The record script's arguments are one packed string, its items ended by newlines: the job
    // id is read from its key, a message's newline is escaped by JSON. One entry per batch, so
    // every event is written to the record and read back from it.
    const job = 'job\nwith a newline ü';
    const add = (type: string, ts: number, data: object) =>
      t.redis.xadd(
        stream,
        '*',
        'type',
        type,
        'job_id',
        job,
        'workflow_id',
        '',
        'customer_id',
        '',
        'attempt',
        type === 'job.received' ? '0' : '1',
        'timestamp',
        String(ts),
        'data',
        JSON.stringify(data),
      );
    // Times near now: the sweep closes a span open past TELEMETRY_MAX_SPAN_AGE_MS (by its event
    // time) as incomplete, and one landing between these one-entry batches would cut the job.
    const at = Date.now();
    await add('job.received', at, { service_required: 'svc', priority: 0 });
    await add('job.claimed', at + 100, { worker_id: 'w1', lease_expires_at: at + 9_000 });
    await add('job.progress', at + 200, {
      worker_id: 'w1',
      percent: 50,
      message: 'line one\nline two \u2713',
    });
    await add('job.completed', at + 300, { worker_id: 'w1', duration_ms: 200 });
    await t.collector({ ...mainThreadExport, TELEMETRY_BATCH_SIZE: '1' });
    await waitFor(() => t.receiver.spansById().size === 2, { timeoutMs: 20_000, what: '2 spans' });
    const spans = t.receiver.spans.filter((s) => s.attributes['job.id'] === job);
    expect(spans).toHaveLength(2);
    const attempt = spans.find((s) => s.name.startsWith('attempt'))!;
    expect(attempt.events.map((e) => e.attributes['progress.message'])).toEqual([
      'line one\nline two \u2713',
    ]);
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'every entry acknowledged',
    });
  });

  it('drops and counts malformed entries (missing fields, wrong types, unknown type) and keeps going', async () => {
    await using t = await startStack();
    const stream = `{${t.namespace}}:events`;
    const app = await t.collector(mainThreadExport);
    const base = [
      'job_id',
      'jx',
      'workflow_id',
      '',
      'customer_id',
      '',
      'attempt',
      '1',
      'timestamp',
      '1',
    ];
    await t.redis.xadd(stream, '*', 'type', 'job.claimed', 'job_id', 'jx'); // missing fields
    await t.redis.xadd(
      stream,
      '*',
      'type',
      'job.claimed',
      ...base.slice(2),
      'job_id',
      'jx',
      'data',
      '{"worker_id":5}',
    ); // wrong type
    await t.redis.xadd(stream, '*', 'type', 'job.exploded', ...base, 'data', '{}'); // unknown type
    await t.redis.xadd(
      stream,
      '*',
      'type',
      'job.completed',
      ...base.slice(0, 8),
      'timestamp',
      'soon',
      'data',
      '{}',
    ); // wrong type
    const ids = await completeJobs(t, 2);
    await waitFor(() => t.receiver.spansById().size === ids.length * 2, {
      timeoutMs: 20_000,
      what: 'the valid jobs exported past the malformed entries',
    });
    expect(app.collector?.decoder.counts.dropped).toEqual({ malformed: 3, unknown_type: 1 });
    await waitFor(async () => (await pendingIn(t)) === 0, {
      timeoutMs: 5_000,
      what: 'malformed entries acknowledged too (they never become valid)',
    });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toContain('jobgate_collector_events_total{result="malformed"} 3');
    expect(metrics).toContain('jobgate_collector_events_total{result="unknown_type"} 1');
    expect(metrics).toContain('jobgate_collector_spans_exported_total{kind="job"} 2');
  });

  it('filters by event type and customer from configuration', async () => {
    await using t = await startStack();
    await t.collector({
      ...mainThreadExport,
      TELEMETRY_EXCLUDE_CUSTOMERS: 'internal',
      TELEMETRY_EVENT_TYPES: 'job.received,job.claimed,job.completed',
    });
    for (const customer of ['acme', 'internal']) {
      const { id } = await t.queue.submit({ service_required: 'svc', customer_id: customer });
      await t.queue.claim(worker('w1'));
      await t.queue.progress(id, 'w1', { percent: 10 });
      await t.queue.complete(id, 'w1', {});
    }
    await waitFor(() => t.receiver.spans.length === 2, {
      timeoutMs: 20_000,
      what: "acme's 2 spans",
    });
    expect(new Set(t.receiver.spans.map((s) => s.attributes['customer.id']))).toEqual(
      new Set(['acme']),
    );
    // job.progress was filtered out: no span events.
    expect(t.receiver.spans.every((s) => s.events.length === 0)).toBe(true);
  });

  it('bounds open spans: past the limit the oldest are closed and marked incomplete', async () => {
    await using t = await startStack();
    const app = await t.collector({ ...mainThreadExport, TELEMETRY_MAX_OPEN_SPANS: '2' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.queue.submit({ service_required: 'svc' })).id);
      t.clock.now += 10;
    }
    await waitFor(() => t.receiver.spans.length === 3, {
      timeoutMs: 20_000,
      what: 'the 3 oldest open jobs closed',
    });
    expect(t.receiver.spans.map((s) => s.attributes['job.id']).sort()).toEqual(
      ids.slice(0, 3).sort(),
    );
    for (const span of t.receiver.spans) {
      expect(span.attributes).toMatchObject({
        'jobgate.incomplete': true,
        'job.status': 'incomplete',
      });
    }
    await waitFor(async () => (await app.collector?.openSpans()) === 2, {
      timeoutMs: 5_000,
      what: 'two jobs still open',
    });
  });

  it('exports queue metrics over OTLP: depth per service, active, oldest pending age, throughput', async () => {
    await using t = await startStack();
    await t.queue.submit({ service_required: 'gpu' });
    await t.queue.submit({ service_required: 'other' });
    await t.queue.submit({ service_required: 'other' });
    await t.collector({ ...mainThreadExport, TELEMETRY_METRIC_INTERVAL_MS: '200' });
    await completeJobs(t, 1);
    await waitFor(
      () =>
        t.receiver.metricPoints.some((p) => p.name === 'jobgate.jobs.finished') &&
        t.receiver.metricPoints.some((p) => p.name === 'jobgate.queue.depth'),
      { timeoutMs: 20_000, what: 'queue metrics' },
    );
    const latest = (name: string, attrs: Record<string, string> = {}) =>
      t.receiver.metricPoints
        .filter(
          (p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
        )
        .at(-1)?.value;
    expect(latest('jobgate.queue.depth', { 'job.service': 'other' })).toBe(2);
    expect(latest('jobgate.queue.depth', { 'job.service': 'gpu' })).toBe(1);
    expect(latest('jobgate.queue.active')).toBe(0);
    expect(
      latest('jobgate.jobs.finished', { 'job.service': 'svc', 'job.status': 'completed' }),
    ).toBe(1);
    expect(latest('jobgate.queue.oldest_pending_age')).toBeGreaterThan(0);
  });
});
