import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { CONSUMER_GROUP } from '../../src/keys.js';
import { createStatusServer } from '../../src/server.js';
import { startHarness } from './harness.js';

describe('durability', () => {
  it('entries read by an instance that died before recording them are taken over', async () => {
    await using h = await startHarness();
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const jobId = await h.runJob('acme');
    // A consumer reads every entry and dies without acknowledging.
    const read = await h.redis.xreadgroup(
      'GROUP',
      CONSUMER_GROUP,
      'crashed',
      'COUNT',
      100,
      'STREAMS',
      `{${h.namespace}}:events`,
      '>',
    );
    expect(read).not.toBeNull();
    const service = h.service({ claimIdleMs: 0 });
    await service.pump();
    await service.pump();
    expect(h.receiver.accepted().map((r) => r.body?.data.job_id)).toEqual([jobId]);
    const pending = (await h.redis.xpending(`{${h.namespace}}:events`, CONSUMER_GROUP)) as [number];
    expect(pending[0]).toBe(0);
  });

  it('a delivery claimed by a sender that vanished is sent again after its lease, same id', async () => {
    await using h = await startHarness();
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    await h.runJob('acme');
    const crashed = h.service({ leaseMs: 60_000 });
    await crashed.pump();
    const first = h.receiver.requests[0]!;
    // Simulate the crash: put the delivery back to "claimed, lease running" as a dead sender left it.
    const id = first.id!;
    const raw = (await h.redis.hget(`{${h.namespace}}:webhook:deliveries`, id))!;
    await h.redis.hset(
      `{${h.namespace}}:webhook:deliveries`,
      id,
      JSON.stringify({ ...JSON.parse(raw), status: 'delivering', claim: 'dead-sender:1' }),
    );
    await h.redis.zadd(`{${h.namespace}}:webhook:due`, h.clock.now() + 60_000, id);
    const other = h.service({ leaseMs: 60_000 });
    await other.pump();
    expect(h.receiver.requests).toHaveLength(1);
    h.clock.advance(60_000);
    await other.pump();
    expect(h.receiver.requests.map((r) => r.id)).toEqual([id, id]);
  });

  it('two instances share the stream and the due set without sending anything twice', async () => {
    await using h = await startHarness();
    const { endpoint } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    const a = h.service();
    const b = h.service();
    const jobs = [];
    for (let i = 0; i < 20; i++) jobs.push(await h.runJob('acme'));
    // Both at once, twice over: they race for the same entries and deliveries.
    await Promise.all([a.pump(), b.pump(), a.pump(), b.pump()]);
    // How many rounds the rest takes depends on which instance got what (a delivery's result and
    // the endpoint's free slots are settled in the next round): pump both until all 20 are out,
    // bounded, then once more, so a second send of anything would show.
    for (let round = 0; round < 20 && h.receiver.requests.length < 20; round++) {
      await Promise.all([a.pump(), b.pump()]);
    }
    await Promise.all([a.pump(), b.pump()]);
    const ids = h.receiver.requests.map((r) => r.id);
    // On a mismatch, say where the missing deliveries are (a retry waiting on the test's clock
    // shows as "failing" with its error).
    const where = (await h.store.deliveries('acme', endpoint.id, { limit: 100 }))
      .filter((d) => d.status !== 'succeeded')
      .map(
        (d) =>
          `${d.id}: ${d.status} after ${d.attempts} attempt(s) (${d.last_error ?? 'no error'})`,
      )
      .join('; ');
    expect(new Set(ids).size, where).toBe(20);
    expect(ids, where).toHaveLength(20);
  });
});

describe('per-job order across instances', () => {
  it("one job's entries recorded by two instances in reverse order still arrive in stream order", async () => {
    await using h = await startHarness();
    await h.store.create('acme', { url: h.receiver.url(), events: ['*'] });
    await h.runJob('acme');
    // An instance has read the job's first entry (job.received) and not recorded it yet.
    await h.redis.xreadgroup(
      'GROUP',
      CONSUMER_GROUP,
      'slow',
      'COUNT',
      1,
      'STREAMS',
      `{${h.namespace}}:events`,
      '>',
    );
    // Another records the later entries first: they wait for the first one.
    const fast = h.service({ claimIdleMs: 60_000 });
    await fast.pump();
    expect(h.receiver.requests).toEqual([]);
    // The first entry is recorded (here taken over from the slow instance): all three go out in
    // stream order.
    const other = h.service({ claimIdleMs: 0 });
    await other.pump();
    h.clock.advance(50);
    await fast.pump();
    expect(h.receiver.accepted().map((r) => r.body?.type)).toEqual([
      'job.received',
      'job.claimed',
      'job.completed',
    ]);
  });
});

describe('isolation between endpoints (real time)', () => {
  it('a hung receiver does not delay another endpoint', async () => {
    await using h = await startHarness();
    h.receiver.setMode('hang', '/slow');
    await h.store.create('acme', { url: h.receiver.url('/slow'), events: ['*'] });
    await h.store.create('globex', { url: h.receiver.url('/fast'), events: ['job.completed'] });
    const service = h.service({
      now: Date.now,
      timeoutMs: 10_000,
      concurrencyPerEndpoint: 2,
      pollMs: 5,
    });
    await service.start();
    for (let i = 0; i < 10; i++) await h.runJob('acme');
    await waitFor(() => h.receiver.requests.filter((r) => r.path === '/slow').length === 2, {
      timeoutMs: 5_000,
      what: 'the hung endpoint holding its two slots',
    });
    const started = Date.now();
    await h.runJob('globex');
    await waitFor(() => h.receiver.accepted('/fast').length === 1, {
      timeoutMs: 2_000,
      what: 'the other endpoint served while the first hangs',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    // The hung endpoint never got more than its concurrency limit.
    expect(h.receiver.requests.filter((r) => r.path === '/slow')).toHaveLength(2);
  });
});

describe('SSRF at delivery', () => {
  it('refuses a host whose DNS answer changed to loopback since registration (rebinding)', async () => {
    await using h = await startHarness();
    const port = new URL(h.receiver.origin).port;
    // Registration saw a public address; now the name points at loopback.
    const { endpoint } = await h.store.create('acme', {
      url: `http://rebind.example.com:${port}/hooks`,
      events: ['job.completed'],
    });
    const service = h.service({
      policy: { allowHttp: true, allowCidrs: [] },
      resolve: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]),
    });
    await h.runJob('acme');
    await service.pump();
    expect(h.receiver.requests).toEqual([]);
    const [delivery] = await h.store.deliveries('acme', endpoint.id);
    expect(delivery).toMatchObject({ status: 'failed', last_status_code: null });
    expect(delivery!.last_error).toMatch(/loopback/);
  });

  it.each(['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '169.254.169.254', '10.0.0.1'])(
    'refuses an IP-literal target %s without connecting',
    async (host) => {
      await using h = await startHarness();
      const { endpoint } = await h.store.create('acme', {
        url: `http://${host}:${new URL(h.receiver.origin).port}/hooks`,
        events: ['job.completed'],
      });
      const service = h.service({ policy: { allowHttp: true, allowCidrs: [] } });
      await h.runJob('acme');
      await service.pump();
      expect(h.receiver.requests).toEqual([]);
      const [delivery] = await h.store.deliveries('acme', endpoint.id);
      expect(delivery!.status).toBe('failed');
      expect(delivery!.last_error).toMatch(/refused/);
    },
  );
});

describe('operations', () => {
  it('manual retry resends a failed delivery under its id; test events reach the endpoint', async () => {
    await using h = await startHarness();
    h.receiver.enqueue({ status: 400 });
    const { endpoint } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    const service = h.service();
    await h.runJob('acme');
    await service.pump();
    const [failed] = await h.store.deliveries('acme', endpoint.id);
    expect(failed!.status).toBe('failed');
    expect(await h.store.retry('globex', failed!.id)).toBe('not_found');
    expect(await h.store.retry('acme', failed!.id)).toBe('ok');
    await service.pump();
    expect(h.receiver.requests.map((r) => [r.id, r.answer])).toEqual([
      [failed!.id, 400],
      [failed!.id, 200],
    ]);
    expect((await h.store.delivery('acme', failed!.id))?.attempts).toBe(2);

    await h.store.sendTest(endpoint);
    await service.pump();
    expect(h.receiver.requests.at(-1)?.body?.type).toBe('webhook.test');
  });

  it('an endpoint failing past the disable window is disabled and says so', async () => {
    await using h = await startHarness();
    h.receiver.setMode({ status: 503 });
    const { endpoint } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    const service = h.service({ disableAfterMs: 3_600_000 });
    await h.runJob('acme');
    await service.pump();
    for (const wait of [5_000, 300_000, 1_800_000, 7_200_000]) {
      h.clock.advance(wait);
      await service.pump();
    }
    const disabled = await h.store.get('acme', endpoint.id);
    expect(disabled?.status).toBe('disabled');
    expect(disabled?.disabled_reason).toMatch(/every delivery failed since/);
    await h.runJob('acme');
    const before = h.receiver.requests.length;
    await service.pump();
    expect(h.receiver.requests).toHaveLength(before);
  });

  it('serves /health and /metrics with delivery outcomes', async () => {
    await using h = await startHarness();
    await h.store.create('acme', { url: h.receiver.url(), events: ['job.completed'] });
    const service = h.service({ now: Date.now });
    await service.start();
    const app = createStatusServer(service);
    try {
      await h.runJob('acme');
      await waitFor(() => h.receiver.accepted().length === 1, {
        timeoutMs: 5_000,
        what: 'delivered',
      });
      const health = await app.inject({ method: 'GET', url: '/health' });
      expect(health.statusCode).toBe(200);
      await waitFor(
        async () => {
          const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
          return (
            /webhook_deliveries_total\{outcome="succeeded"\} 1/.test(metrics) &&
            /webhook_queue_lag_seconds \d/.test(metrics)
          );
        },
        { timeoutMs: 5_000, what: 'metrics showing the delivery' },
      );
    } finally {
      await app.close();
    }
  });
});

describe('an idle sender (real time)', () => {
  it('sleeps while nothing is due, and still sends a manual retry put in the due set by another process', async () => {
    await using h = await startHarness();
    const { endpoint } = await h.store.create('acme', {
      url: h.receiver.url(),
      events: ['job.completed'],
    });
    // The service's own connection, its commands counted.
    const redis = h.redis.duplicate();
    const send = redis.sendCommand.bind(redis);
    const looks: number[] = [];
    redis.sendCommand = (command: { name: string }) => {
      if (command.name === 'zrangebyscore') looks.push(performance.now());
      return send(command as Parameters<typeof send>[0]);
    };
    const service = h.service({ redis, now: Date.now });
    await service.start();
    await h.runJob('acme');
    await waitFor(() => h.receiver.accepted().length === 1, {
      timeoutMs: 5_000,
      what: 'the first delivery',
    });
    const id = h.receiver.requests[0]!.id!;
    // Nothing due once the sender has recorded the delivery (a finished request wakes it for
    // that, a look a few ms after the last): from the look after, each idle look at the due set
    // is idleMs (500 ms) after the last one, where it was every 20 ms.
    await waitFor(
      async () =>
        (await h.store.deliveries('acme', endpoint.id, { limit: 10 })).some(
          (d) => d.status === 'succeeded',
        ),
      { timeoutMs: 5_000, what: 'the first delivery recorded as succeeded' },
    );
    const from = looks.length + 1;
    await waitFor(() => looks.length >= from + 4, {
      timeoutMs: 10_000,
      what: 'four idle looks at the due set after the delivery was recorded',
    });
    const gaps = looks.slice(from + 1, from + 4).map((t, i) => t - looks[from + i]!);
    expect(Math.min(...gaps), JSON.stringify(gaps)).toBeGreaterThanOrEqual(400);
    // A manual retry (the API's, through the store: no wake-up reaches the service) is sent by
    // the idle sender within its idleMs, under the same id.
    expect(await h.store.retry('acme', id)).toBe('ok');
    await waitFor(() => h.receiver.accepted().length === 2, {
      timeoutMs: 5_000,
      what: 'the manual retry sent',
    });
    expect(h.receiver.requests.map((r) => r.id)).toEqual([id, id]);
    await service.stop();
    redis.disconnect();
  });
});
