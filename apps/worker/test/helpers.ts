import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  createQueue,
  readJobAttestations,
  type Attestation,
  type Job,
  type Queue,
} from '@jobgate/core';
import { dropNamespace, testBundle, uniqueNamespace, waitFor, within } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import type { Connector } from '../src/connectors/types.js';
import { createWorker, type Worker, type WorkerOptions } from '../src/worker.js';

const FINAL = new Set<Job['status']>(['completed', 'failed', 'cancelled']);

export interface Harness extends AsyncDisposable {
  namespace: string;
  redis: Redis;
  queue: Queue;
  /** Starts a worker; stopped (grace 0) at dispose unless the test stopped it. */
  startWorker(connectors: Connector[], options?: Partial<WorkerOptions>): Promise<Worker>;
  waitForJob(id: string, predicate: (job: Job) => boolean, timeoutMs?: number): Promise<Job>;
  attestations(jobId: string): Promise<Attestation[]>;
}

/** One namespace per test on the integration Redis, a queue with a short backoff, and cleanup. */
export async function harness(): Promise<Harness> {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: run through the integration vitest preset');
  const namespace = uniqueNamespace('wk');
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const realQueue = await createQueue({ redis, namespace, backoff: { baseMs: 20, maxMs: 100 } });
  // Every job submitted through the harness, so a wait can notice another job of the file stuck
  // in a claim loop (a broken claim hands the same job out again and again, and a worker busy
  // with it never claims the awaited one: that wait would otherwise run out its full timeout,
  // three times, in every later test of a file that shares one worker).
  const submitted = new Set<string>();
  const queue = new Proxy(realQueue, {
    get(target, property) {
      if (property === 'submit')
        return async (input: Parameters<Queue['submit']>[0]) => {
          const reply = await target.submit(input);
          submitted.add(reply.id);
          return reply;
        };
      if (property === 'submitMany')
        return async (inputs: Parameters<Queue['submitMany']>[0]) => {
          const replies = await target.submitMany(inputs);
          for (const reply of replies) submitted.add(reply.id);
          return replies;
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  /** A job of this harness on more attempts than it allows: nothing can be awaited any more. */
  const runaway = async (except: string): Promise<Job | undefined> => {
    const ids = [...submitted].filter((id) => id !== except);
    const jobs = await Promise.all(ids.map((id) => realQueue.get(id)));
    return jobs.find((job): job is Job => job !== null && job.attempts > job.max_attempts);
  };
  const workers: Worker[] = [];
  let n = 0;
  return {
    namespace,
    redis,
    queue,
    async startWorker(connectors, options = {}) {
      const worker = createWorker({
        queue,
        redis,
        capabilities: { worker_id: `${namespace}-w${++n}` },
        connectors,
        leaseMs: 2_000,
        idleWaitMs: 200,
        shutdownGraceMs: 0,
        registryEveryMs: 500,
        progressEveryMs: 10,
        ...options,
      });
      workers.push(worker);
      await worker.start();
      return worker;
    },
    async waitForJob(id, predicate, timeoutMs = 10_000) {
      let last: Job | null = null;
      let ended = false;
      let other: Job | undefined;
      let checks = 0;
      let found: Job;
      try {
        found = await waitFor(
          async () => {
            // The other jobs are looked at every 10th check (about 5 times a second).
            if (++checks % 10 === 1) {
              other = await runaway(id);
              if (other) return other;
            }
            last = await queue.get(id);
            if (!last) return null;
            // More attempts than allowed cannot happen: the job is being handed out again and
            // again (a broken claim), and no awaited state will hold still long enough to see.
            if (last.attempts > last.max_attempts) {
              ended = true;
              return last;
            }
            if (predicate(last)) return last;
            // A finished job never changes again: waiting out the timeout (and its retries) for
            // a state it cannot reach only makes a wrong result slow to report.
            ended = FINAL.has(last.status);
            return ended ? last : null;
          },
          { timeoutMs, intervalMs: 20, what: `job ${id} to reach the expected state` },
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`, {
          cause: error,
        });
      }
      // Worded as an assertion ("expected ..."): a wrong final state is a bug, never retried.
      if (other)
        throw new Error(
          `expected every job to run at most its max_attempts times, but job ${other.id} (submitted earlier through this harness) is on attempt ${other.attempts} of ${other.max_attempts}: a worker keeps claiming it, so job ${id} cannot be awaited: ${JSON.stringify(other)}`,
        );
      if (ended)
        throw new Error(
          found.attempts > found.max_attempts
            ? `expected job ${id} to run at most ${found.max_attempts} times, but it is on attempt ${found.attempts}: ${JSON.stringify(found)}`
            : `expected job ${id} to reach the awaited state, but it ended ${found.status}, which is final: ${JSON.stringify(found)}`,
        );
      return found;
    },
    attestations: (jobId) => readJobAttestations(redis, namespace, jobId),
    async [Symbol.asyncDispose]() {
      await Promise.all(workers.map((w) => w.stop({ graceMs: 0 })));
      await realQueue.close();
      await dropNamespace(redis, namespace);
      await redis.quit();
    },
  };
}

const appDir = fileURLToPath(new URL('..', import.meta.url));

export interface Child extends AsyncDisposable {
  process: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its exit, for at most `timeoutMs` (a worker that ignores SIGTERM fails the test, not the suite). */
  exit(
    what: string,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The real worker entry point as its own process: `node <bundle of src/main.ts>`, built once per
 * run by test/bundle-setup.ts (one process, so a signal reaches the worker itself).
 */
export function spawnWorker(h: Harness, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [testBundle()], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: process.env.REDIS_URL ?? '',
      QUEUE_NAMESPACE: h.namespace,
      WORKER_CONNECTORS: 'simulation',
      WORKER_LEASE_MS: '1500',
      WORKER_IDLE_WAIT_MS: '200',
      WORKER_REGISTRY_INTERVAL_MS: '200',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close' (after 'exit' and the last output): a test reads the output once the worker exited.
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    output: () => output,
    exited,
    exit: (what, timeoutMs = 20_000) =>
      within(exited, { timeoutMs, what: `the worker exiting (${what})` }),
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await within(exited, { timeoutMs: 10_000, what: 'the worker exiting after SIGKILL' });
      }
    },
  };
}
