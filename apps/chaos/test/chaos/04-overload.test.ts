import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { submitJob, type SubmitOutcome } from '../../src/client.js';
import { chaosConfig, scaled } from '../../src/config.js';
import { record } from '../../src/figures.js';
import { judge, settle } from '../../src/ledger.js';
import { between, seededRandom } from '../../src/random.js';
import { startChaosStack } from '../../src/stack.js';

const DURATION_MS = scaled(30_000, 5_000);
const CLIENTS = 64;
const MAX_IN_FLIGHT = 16;
const MAX_PENDING = 300;
/** Before the overload: a few clients well under the limits, to measure this machine's latency now. */
const CALM_CLIENTS = 4;
const CALM_MS = 3_000;
/**
 * Accepted submits under overload may wait behind at most MAX_IN_FLIGHT others plus the cost of
 * the requests shed meanwhile, so their p99 must stay within the largest of:
 * - P99_FLOOR_MS, about 6× a quiet machine's overload p99 (456 ms): below it, scheduling noise;
 * - P99_FACTOR × the calm phase's p99 (4 clients, same run, a minute earlier);
 * - SHED_FACTOR × the p99 of the shed answers of the same window. A shed answer is sent from the
 *   first request hook, before authentication and Redis: its latency is what the machine, the
 *   client and the API's event loop cost any request right then. On a machine starved by other
 *   work (load 28-32 on 2 cores: 36 submits/s offered, accepted p99 4.9 s against a calm p99 of
 *   0.2 s a minute earlier) both rise together; an API that held accepted requests (a queue
 *   behind the in-flight limit, a slow path) raises only the accepted ones. Accepted answers do
 *   more (authentication, validation, one Redis call, up to 15 others ahead): at load 16-24 their
 *   p99 was 3× the shed p99 (672 vs 228 ms), hence 6×.
 * The figures of every run are in docs/reliability.md.
 */
const P99_FACTOR = 10;
const SHED_FACTOR = 6;
const P99_FLOOR_MS = 3_000;
/** Peak RSS per process: a process this big under 30 s of overload is a leak a user would notice. */
const RSS_LIMIT_MB = { api: 256, worker: 192, redis: 128 } as const;

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `clients` loops submitting until `until`; a shed answer is waited out (capped at `capWaitMs`). */
async function submitters(
  apiUrl: string,
  key: string,
  clients: number,
  until: number,
  pauseMs: number,
  capWaitMs: number,
  random: () => number,
  into: SubmitOutcome[],
): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        const outcome = await submitJob(apiUrl, key, {
          service_required: 'simulation',
          payload: { duration_ms: between(random, 20, 80), steps: 1 },
        });
        into.push(outcome);
        const wait =
          outcome.status === 201
            ? pauseMs
            : // A well-behaved client waits as told, capped here to keep the pressure on.
              Math.min(Number(outcome.retryAfter ?? '1') * 1000, capWaitMs);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }),
  );
}

it(`overload: ${CLIENTS} clients submit as fast as they can for ${DURATION_MS / 1000} s; the API sheds with Retry-After, accepted requests stay fast, memory stays bounded, everything accepted completes once`, async () => {
  const random = seededRandom(chaosConfig.seed + 4);
  await using stack = await startChaosStack({
    name: 'overload',
    workers: 2,
    workerEnv: { WORKER_CONCURRENCY: '4' },
    apiEnv: { MAX_PENDING_JOBS: String(MAX_PENDING), MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) },
  });
  const key = await stack.customer('acme');
  const rss = new Map<string, number>();
  let redisRss = 0;
  const sample = setInterval(() => {
    for (const p of [stack.api, ...stack.liveWorkers()])
      rss.set(p.name, Math.max(rss.get(p.name) ?? 0, rssMb(p.pid)));
    stack.redis
      .info('memory')
      .then((info) => {
        const bytes = Number(/used_memory_rss:(\d+)/.exec(info)?.[1] ?? 0);
        redisRss = Math.max(redisRss, bytes / 1024 / 1024);
      })
      .catch(() => undefined);
  }, 250);
  const warmUp: SubmitOutcome[] = [];
  const calm: SubmitOutcome[] = [];
  const outcomes: SubmitOutcome[] = [];
  const started = Date.now();
  let windowMs: number;
  try {
    // Warm-up (first requests compile code paths, fill the key cache), not measured; then calm:
    // 4 clients pausing 50 ms between submits (at most 240 jobs, under every limit).
    await submitters(stack.apiUrl, key, 1, Date.now() + 500, 0, 250, random, warmUp);
    await submitters(stack.apiUrl, key, CALM_CLIENTS, Date.now() + CALM_MS, 50, 250, random, calm);
    const overloadStarted = Date.now();
    await submitters(
      stack.apiUrl,
      key,
      CLIENTS,
      overloadStarted + DURATION_MS,
      0,
      250,
      random,
      outcomes,
    );
    windowMs = Date.now() - overloadStarted;
  } finally {
    clearInterval(sample);
  }
  const completedInWindow = (await stack.queue.counts()).completed;
  const accepted = outcomes.filter((o) => o.status === 201 && o.id);
  const calmAccepted = calm.filter((o) => o.status === 201 && o.id);
  const ids = [...warmUp, ...calmAccepted, ...accepted]
    .filter((o) => o.status === 201 && o.id)
    .map((o) => o.id!);
  const shed = outcomes.filter((o) => o.status === 429 || o.status === 503);
  const other = [...warmUp, ...calm, ...outcomes].filter(
    (o) => o.status !== 201 && o.status !== 429 && o.status !== 503,
  );
  const calmShed = calm.filter((o) => o.status !== 201);
  const shedWithoutRetryAfter = shed.filter((o) => !o.retryAfter);
  const ms = (list: SubmitOutcome[]) => list.map((o) => o.ms);
  const calmP99 = percentile(ms(calmAccepted), 99);
  const p50 = percentile(ms(accepted), 50);
  const p99 = percentile(ms(accepted), 99);
  const shedP99 = percentile(ms(shed), 99);
  const p99Bound = Math.max(P99_FLOOR_MS, P99_FACTOR * calmP99, SHED_FACTOR * shedP99);
  const settled = await settle(stack.queue, ids.length, 120_000);
  const verdict = await judge(stack.redis, stack.queue, stack.namespace, ids);
  const limitOf = (name: string): number =>
    name === 'api' ? RSS_LIMIT_MB.api : RSS_LIMIT_MB.worker;
  const overRss = [
    ...[...rss].filter(([name, mb]) => mb >= limitOf(name)),
    ...(redisRss >= RSS_LIMIT_MB.redis ? [['redis', redisRss] as const] : []),
  ];
  const passed =
    settled &&
    verdict.problems.length === 0 &&
    shed.length > 0 &&
    other.length === 0 &&
    shedWithoutRetryAfter.length === 0 &&
    p99 <= p99Bound &&
    overRss.length === 0;
  const rate = (n: number) => Math.round(n / (windowMs / 1000));
  record({
    order: 40,
    scenario: 'overload',
    jobs: verdict.jobs,
    faults: `${CLIENTS} clients for ${(windowMs / 1000).toFixed(0)} s: ${rate(outcomes.length)} submits/s offered vs ${rate(completedInWindow)} jobs/s processed`,
    completedOnce: verdict.completedOnce,
    duplicated: verdict.duplicated.length,
    lost: verdict.lost.length,
    timeMs: Date.now() - started,
    notes:
      `${shed.filter((o) => o.status === 429).length} × 429 + ${shed.filter((o) => o.status === 503).length} × 503, all with Retry-After: ${shedWithoutRetryAfter.length === 0 ? 'yes' : 'no'}; ` +
      `calm: ${calmAccepted.length} accepted, ${calmShed.length} shed; ` +
      `accepted p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms (bound ${p99Bound.toFixed(0)} ms = max(${P99_FLOOR_MS}, ${P99_FACTOR} × calm p99 ${calmP99.toFixed(0)} ms, ${SHED_FACTOR} × shed p99 ${shedP99.toFixed(0)} ms)); ` +
      `max RSS ${[...rss].map(([n, mb]) => `${n} ${mb.toFixed(0)} MB`).join(', ')}, redis ${redisRss.toFixed(0)} MB`,
    passed,
  });
  const explain = `${verdict.problems.slice(0, 20).join('\n')}\n${verdict.timelines()}\nother answers: ${JSON.stringify(other.slice(0, 5))}`;
  expect(other, 'only 201, 429 and 503 under overload (no crash, no 500)').toEqual([]);
  expect(shed.length, 'the API sheds instead of queueing without bound').toBeGreaterThan(0);
  expect(shedWithoutRetryAfter).toEqual([]);
  expect(
    p99,
    `p99 of accepted submits under overload (calm p99 ${calmP99.toFixed(0)} ms, shed p99 ${shedP99.toFixed(0)} ms)`,
  ).toBeLessThanOrEqual(p99Bound);
  expect(
    overRss,
    `peak RSS (MB) per process over its limit ${JSON.stringify(RSS_LIMIT_MB)}`,
  ).toEqual([]);
  expect(settled, explain).toBe(true);
  expect(verdict.problems, explain).toEqual([]);
});
