/**
 * Benchmark (not a test): `pnpm --filter @jobgate/api bench`.
 * 1. Submit rate: POST /api/jobs over HTTP keep-alive with N concurrent requests, against the API
 *    running as its own process on a throwaway Redis.
 * 2. WebSocket fan-out: 200 clients subscribed to one customer's jobs; latency from the event's
 *    timestamp (taken when the queue function runs) to its arrival at each client.
 * Env: BENCH_JOBS (default 20000), BENCH_CONCURRENCY (32), BENCH_WS_CLIENTS (200), BENCH_WS_EVENTS (300).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startRedis, waitFor } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { ApiKeyStore } from '../src/auth.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WS_CLIENTS = Number(process.env.BENCH_WS_CLIENTS ?? 200);
const WS_EVENTS = Number(process.env.BENCH_WS_EVENTS ?? 300);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const redis = await startRedis({ own: true });
const namespace = 'bench';
const admin = new Redis(redis.url);
const keys = new ApiKeyStore(admin, namespace, 0);
const port = 39_000 + Math.floor(Math.random() * 1000);
const api = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
  cwd: fileURLToPath(new URL('..', import.meta.url)),
  env: {
    ...process.env,
    REDIS_URL: redis.url,
    QUEUE_NAMESPACE: namespace,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
try {
  await waitFor(async () => (await fetch(`${base}/health`)).status === 200, {
    timeoutMs: 30_000,
    intervalMs: 100,
    what: 'the API answering /health with 200',
  });
  const key = (await keys.create('bench')).key;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = JSON.stringify({
    service_required: 'simulation',
    priority: 1,
    payload: { prompt: 'a cat', steps: 4 },
  });

  function post(): Promise<number> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        `${base}/api/jobs`,
        {
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 201
              ? resolve(performance.now() - started)
              : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  // Warm-up: JIT, connection pool, auth cache.
  await Promise.all(Array.from({ length: CONCURRENCY }, () => post()));
  const latencies: number[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < JOBS) {
        issued++;
        latencies.push(await post());
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  console.log(
    `submit over HTTP keep-alive: ${JOBS} jobs, concurrency ${CONCURRENCY}: ${Math.round(JOBS / seconds)} jobs/s; ` +
      `latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  );

  // WebSocket fan-out.
  const wsKey = (await keys.create('fanout')).key;
  const clients = await Promise.all(
    Array.from({ length: WS_CLIENTS }, async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, {
        headers: { authorization: `Bearer ${wsKey}` },
      });
      const samples: number[] = [];
      let subscribed = false;
      socket.on('message', (data) => {
        const message = JSON.parse((data as Buffer).toString('utf8')) as {
          type: string;
          event?: { timestamp: number };
        };
        if (message.type === 'subscribed') subscribed = true;
        if (message.type === 'event' && message.event)
          samples.push(Date.now() - message.event.timestamp);
      });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.send(JSON.stringify({ type: 'subscribe', all: true }));
      await waitFor(() => subscribed, { timeoutMs: 10_000, what: 'the websocket subscribed' });
      return { socket, samples };
    }),
  );
  const wsBody = JSON.stringify({ service_required: 'simulation', payload: {} });
  const fanStarted = performance.now();
  // Paced at one submission per event-loop turn of the API round trip: a steady stream, not a burst.
  for (let i = 0; i < WS_EVENTS; i++) {
    await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${wsKey}`, 'content-type': 'application/json' },
      body: wsBody,
    });
  }
  await waitFor(() => clients.every((c) => c.samples.length === WS_EVENTS), {
    timeoutMs: 60_000,
    intervalMs: 20,
    what: `${WS_EVENTS} events on every websocket client`,
  });
  const fanSeconds = (performance.now() - fanStarted) / 1000;
  const all = clients.flatMap((c) => c.samples).sort((a, b) => a - b);
  console.log(
    `websocket fan-out: ${WS_CLIENTS} clients x ${WS_EVENTS} events (${all.length} deliveries, ${Math.round(all.length / fanSeconds)} msgs/s): ` +
      `latency p50 ${percentile(all, 50)} ms, p99 ${percentile(all, 99)} ms, max ${all.at(-1)} ms`,
  );
  for (const c of clients) c.socket.terminate();
  agent.destroy();
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, Redis ${redis.version}`,
  );
} finally {
  api.kill('SIGTERM');
  await new Promise((resolve) => api.once('exit', resolve));
  admin.disconnect();
  await redis.stop();
}
