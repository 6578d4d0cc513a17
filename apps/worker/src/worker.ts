import { hostname } from 'node:os';
import {
  createAttestationStore,
  JobNotHeldError,
  type Job,
  type Queue,
  type WorkerSpec,
} from '@jobgate/core';
import type { Redis } from 'ioredis';
import type { Connector } from './connectors/types.js';
import { errorChain, reportFailure, type FailureReportDeps } from './failure-report.js';
import {
  createRunning,
  holdLost,
  runJob,
  ShutdownAbort,
  startHeartbeat,
  type RunDeps,
  type Running,
} from './job-run.js';
import { silentLogger, type Logger } from './logger.js';
import type { WorkerMetrics } from './metrics.js';
import {
  WorkerRegistry,
  type DrainRequest,
  type WorkerRecord,
  type WorkerStatus,
} from './registry.js';
import { runTracing, type RunEnd, type WorkerTelemetry } from './tracing.js';

export interface WorkerOptions {
  queue: Queue;
  /** Client for the worker registry and attestations (same server and namespace as the queue). */
  redis: Redis;
  /** What the worker claims with. `services` defaults to the connectors' services, `models` to theirs. */
  capabilities: Omit<WorkerSpec, 'services'> & { services?: string[] };
  connectors: Connector[];
  /** Jobs run at once. Default 1. */
  concurrency?: number;
  /** Lease per claim; heartbeats renew it. Default 30 000 ms. */
  leaseMs?: number;
  /** Heartbeat interval. Default a third of the lease, so two heartbeats can fail before it expires. */
  heartbeatEveryMs?: number;
  /** Longest blocking wait for a wake-up before claiming again (retries after a backoff do not signal). Default 2 000 ms. */
  idleWaitMs?: number;
  /** On stop: how long running jobs may take to finish before they are released. Default 30 000 ms. */
  shutdownGraceMs?: number;
  /**
   * On stop: how long each step that needs Redis (status, releases, deregistering) may wait for an
   * answer. Redis gone must not hold the process: what is left is recovered when leases and the
   * registry record expire. Default 5 000 ms.
   */
  shutdownRedisTimeoutMs?: number;
  /** Per-job time limit; a payload's `timeout_ms` may lower or raise it. Default 10 minutes. */
  jobTimeoutMs?: number;
  /** An upstream asking to wait longer than this fails the job instead of retrying. Default 15 minutes. */
  maxRetryAfterMs?: number;
  /** Machine (host, pod, GPU box) the worker runs on; attestations and the registry name it. Default the hostname. */
  machineId?: string;
  /** Registry heartbeat. Default 5 000 ms; the record expires after three missed beats. */
  registryEveryMs?: number;
  /** Minimum interval between progress writes per job. Default 250 ms. */
  progressEveryMs?: number;
  version?: string;
  logger?: Logger;
  /** Prometheus counters and histograms (`createWorkerMetrics`); none when omitted. */
  metrics?: WorkerMetrics;
  /** A span per run and a run-duration histogram over OTLP (`@jobgate/telemetry/setup`); none when absent. */
  telemetry?: WorkerTelemetry;
}

export interface StopReport {
  /** Jobs that finished (completed or failed) during the grace period. */
  finished: string[];
  /** Jobs still running at the end of the grace period, handed back to the queue. */
  released: string[];
  /**
   * Jobs still running at the end of the grace period that could not be handed back (Redis did
   * not answer, or the job was no longer held): another worker takes them when the lease expires.
   */
  leftToLease: string[];
  /** A step of the stop that needs Redis got no answer within `shutdownRedisTimeoutMs`. */
  redisUnanswered: boolean;
}

export interface WorkerStats {
  status: WorkerStatus;
  /** An operator's drain is in effect (read from Redis with the registry heartbeat). */
  drain: DrainRequest | null;
  /** When the registry was last written successfully (0: never). */
  lastRegistryOk: number;
  /** `stop()` was called. */
  stopping: boolean;
  active: string[];
  completed: number;
  failed: number;
  released: number;
}

export interface Worker {
  readonly id: string;
  readonly spec: WorkerSpec;
  /** Registers the worker and starts claiming. */
  start(): Promise<void>;
  /** Stops claiming, lets running jobs finish within the grace period, releases the rest, deregisters. */
  stop(options?: { graceMs?: number }): Promise<StopReport>;
  stats(): WorkerStats;
}

/** Status changes (busy <-> idle, per job at concurrency 1) reach the registry at most this often. */
const STATUS_PUBLISH_MS = 250;

export function createWorker(options: WorkerOptions): Worker {
  const { queue, redis } = options;
  const log = options.logger ?? silentLogger;
  const concurrency = options.concurrency ?? 1;
  const leaseMs = options.leaseMs ?? 30_000;
  const heartbeatEveryMs = options.heartbeatEveryMs ?? Math.max(50, Math.floor(leaseMs / 3));
  const idleWaitMs = options.idleWaitMs ?? 2_000;
  const graceDefault = options.shutdownGraceMs ?? 30_000;
  const stopRedisMs = options.shutdownRedisTimeoutMs ?? 5_000;
  const jobTimeoutMs = options.jobTimeoutMs ?? 600_000;
  const registryEveryMs = options.registryEveryMs ?? 5_000;
  const progressEveryMs = options.progressEveryMs ?? 250;
  const machineId = options.machineId ?? hostname();
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new TypeError(`concurrency must be a positive integer (got ${concurrency})`);
  if (!Number.isInteger(leaseMs) || leaseMs < 100)
    throw new TypeError(`leaseMs must be an integer >= 100 (got ${leaseMs})`);
  if (heartbeatEveryMs >= leaseMs)
    throw new TypeError(
      `heartbeatEveryMs (${heartbeatEveryMs}) must be shorter than leaseMs (${leaseMs})`,
    );
  if (options.connectors.length === 0) throw new TypeError('a worker needs at least one connector');

  const byService = new Map<string, Connector>();
  for (const connector of options.connectors) {
    if (byService.has(connector.service))
      throw new TypeError(`two connectors serve ${connector.service}`);
    byService.set(connector.service, connector);
  }
  const { services: _ignored, ...caps } = options.capabilities;
  const models: Record<string, string[]> = { ...caps.models };
  for (const connector of options.connectors) {
    if (connector.models && !models[connector.service])
      models[connector.service] = [...connector.models];
  }
  // Claim only what a connector can run: a service without one would fail every job it took.
  const spec: WorkerSpec = {
    ...caps,
    services: [...byService.keys()],
    ...(Object.keys(models).length > 0 ? { models } : {}),
  };
  const id = spec.worker_id;
  const registry = new WorkerRegistry(redis, queue.namespace, registryEveryMs * 3);
  const traceRun = options.telemetry
    ? runTracing(options.telemetry, { namespace: queue.namespace, workerId: id, machineId })
    : undefined;

  const running = new Map<string, Running>();
  const loops: Array<Promise<void>> = [];
  const counters = { completed: 0, failed: 0, released: 0 };
  let status: WorkerStatus = 'starting';
  let stopping = false;
  // An operator's drain, as last read with the registry heartbeat. While set, slots claim
  // nothing and wait on `drainLifted`.
  let drain: DrainRequest | null = null;
  let liftDrain: () => void = () => {};
  let drainLifted: Promise<void> = Promise.resolve();
  let lastRegistryOk = 0;
  const metrics = options.metrics;
  let wakeStop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    wakeStop = resolve;
  });
  let registryTimer: NodeJS.Timeout | undefined;
  let stopPromise: Promise<StopReport> | undefined;
  const startedAt = Date.now();

  const record = (): WorkerRecord => ({
    worker_id: id,
    machine_id: machineId,
    hostname: hostname(),
    pid: process.pid,
    version: options.version ?? '0.0.0',
    status,
    services: spec.services,
    connectors: options.connectors.map((c) => c.kind),
    capabilities: spec as unknown as Record<string, unknown>,
    concurrency,
    current_jobs: [...running.keys()],
    jobs_completed: counters.completed,
    jobs_failed: counters.failed,
    started_at: startedAt,
    last_heartbeat: Date.now(),
    drain,
  });
  /** Where the worker rests between jobs: busy/idle, or draining/drained under a drain. */
  const restingStatus = (): WorkerStatus =>
    drain ? (running.size > 0 ? 'draining' : 'drained') : running.size > 0 ? 'busy' : 'idle';
  /**
   * Takes in the drain request read with a registry write. Claims are sent on the same
   * connection as registry writes, so once the `draining` record is in Redis, every claim this
   * worker made before it is already done: nothing is claimed after the operator sees it.
   */
  const applyDrain = (next: DrainRequest | null): void => {
    if ((drain === null) === (next === null)) {
      drain = next;
      return;
    }
    drain = next;
    metrics?.draining.set(next ? 1 : 0);
    if (next) {
      drainLifted = new Promise<void>((resolve) => {
        liftDrain = resolve;
      });
      log.info(
        { worker_id: id, by: next.by, running: running.size },
        'drained by an operator: finishing running jobs, claiming nothing new',
      );
    } else {
      liftDrain();
      log.info({ worker_id: id }, 'undrained by an operator: claiming again');
    }
    if (!stopping && status !== 'starting') setStatus(restingStatus());
  };
  const publish = async (): Promise<void> => {
    try {
      applyDrain(await registry.publish(record()));
      lastRegistryOk = Date.now();
    } catch (error) {
      log.warn({ err: errorChain(error) }, 'worker registry update failed');
    }
  };
  // Off the per-job path: a change is published once per STATUS_PUBLISH_MS at most (the latest
  // status then), and with every registry heartbeat.
  let statusTimer: NodeJS.Timeout | undefined;
  const setStatus = (next: WorkerStatus): void => {
    if (status === next) return;
    status = next;
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      void publish();
    }, STATUS_PUBLISH_MS);
  };
  const runDeps: RunDeps = { queue, workerId: id, log, jobTimeoutMs, progressEveryMs };
  const failureDeps: FailureReportDeps = {
    queue,
    attestations: createAttestationStore({ redis, namespace: queue.namespace }),
    workerId: id,
    machineId,
    log,
    ...(options.maxRetryAfterMs === undefined ? {} : { maxRetryAfterMs: options.maxRetryAfterMs }),
  };
  let stopHeartbeat: () => void = () => {};

  /** Waits for a wake-up from the queue (a submit or requeue), the idle timeout, or stop. */
  async function idle(): Promise<void> {
    try {
      await Promise.race([queue.waitForWork(idleWaitMs, spec.services), stopped]);
    } catch (error) {
      log.warn({ err: errorChain(error) }, 'waiting for work failed; retrying');
      await Promise.race([new Promise((r) => setTimeout(r, Math.min(idleWaitMs, 1_000))), stopped]);
    }
  }

  async function slot(): Promise<void> {
    let next: Job | null = null;
    while (!stopping || next) {
      let job = next;
      next = null;
      if (!job) {
        if (drain) {
          await Promise.race([drainLifted, stopped]);
          continue;
        }
        const claimStart = performance.now();
        try {
          job = await queue.claim(spec, { leaseMs });
        } catch (error) {
          metrics?.claimErrors.inc();
          log.error({ err: errorChain(error) }, 'claim failed');
          await idle();
          continue;
        }
        metrics?.claimSeconds.observe(
          { result: job ? 'job' : 'empty' },
          (performance.now() - claimStart) / 1_000,
        );
      }
      if (!job) {
        if (running.size === 0) setStatus(restingStatus());
        await idle();
        continue;
      }
      next = await execute(job);
    }
  }

  /** Runs a claimed job and reports its outcome; -> the next job when completing claimed one. */
  async function execute(job: Job): Promise<Job | null> {
    const entry = createRunning(job);
    running.set(job.id, entry);
    setStatus(restingStatus());
    metrics?.running.set(running.size);
    const jobLog = { job_id: job.id, workflow_id: job.workflow_id, attempt: job.attempts };
    log.debug({ ...jobLog, service: job.service_required }, 'job claimed');
    const connector = byService.get(job.service_required);
    let outcomeLabel = 'lost';
    const endRun: RunEnd | undefined = traceRun?.(job);
    try {
      const outcome = await runJob(entry, connector, runDeps);
      endRun?.(outcome.kind, outcome.kind === 'failed' ? outcome.error : undefined);
      if (outcome.kind === 'completed') {
        const [followUp, done] = await complete(entry, outcome.result);
        outcomeLabel = done ? 'completed' : 'lost';
        return followUp;
      }
      if (outcome.kind === 'failed') {
        const report = await reportFailure(
          failureDeps,
          job,
          connector,
          outcome.error,
          entry.startedAt,
        );
        metrics?.connectorErrors.inc({
          connector: connector?.kind ?? 'none',
          failure_type: report.classification.failure_type,
        });
        if (report.reported) {
          counters.failed += 1;
          outcomeLabel = report.decision === 'retry' ? 'retried' : 'failed';
          metrics?.failures.inc({
            service: job.service_required,
            failure_type: report.classification.failure_type,
            failure_reason: report.classification.failure_reason,
            decision: report.decision,
          });
        }
      } else if (entry.released) {
        outcomeLabel = 'released';
      } else if (entry.lost) {
        outcomeLabel = entry.lost === 'status:cancelled' ? 'cancelled' : 'lost';
        log.warn({ ...jobLog, reason: entry.lost }, 'job stopped: no longer held by this worker');
      }
      return null;
    } finally {
      running.delete(job.id);
      entry.settle();
      if (metrics) {
        const labels = { service: job.service_required, outcome: outcomeLabel };
        metrics.jobs.inc(labels);
        metrics.jobSeconds.observe(labels, (Date.now() - entry.startedAt) / 1_000);
        metrics.running.set(running.size);
      }
      if (!stopping) setStatus(restingStatus());
    }
  }

  /** -> [this slot's next job, whether the completion was recorded]. */
  async function complete(entry: Running, result: unknown): Promise<[Job | null, boolean]> {
    const { job } = entry;
    try {
      // Finishing and claiming this slot's next job in one call is the hot path; a stopping or
      // drained worker claims nothing more.
      const next =
        stopping || drain
          ? (await queue.complete(job.id, id, result), null)
          : await queue.completeAndClaim(job.id, id, result, spec, { leaseMs });
      counters.completed += 1;
      log.debug({ job_id: job.id, duration_ms: Date.now() - entry.startedAt }, 'job completed');
      return [next, true];
    } catch (error) {
      if (error instanceof JobNotHeldError) {
        holdLost(entry, error);
        log.warn(
          { job_id: job.id, reason: error.reason },
          'job finished but no longer held; result dropped',
        );
      } else {
        log.error(
          { job_id: job.id, err: errorChain(error) },
          'reporting the result failed; the lease will expire and the job be retried',
        );
      }
      return [null, false];
    }
  }

  /**
   * Hands a running job back to the queue: pending again in its place, and the attempt is not
   * counted, so a shutdown never fails a job on its last attempt. Not a failure: no attestation.
   */
  /** Hands a running job back to the queue; false when it could not (its lease then expires). */
  async function release(entry: Running): Promise<boolean> {
    entry.released = true;
    entry.controller.abort(new ShutdownAbort(`worker ${id} is shutting down`));
    const { job } = entry;
    try {
      await queue.release(job.id, id);
      counters.released += 1;
      log.warn({ job_id: job.id, attempt: job.attempts }, 'job released on shutdown');
      return true;
    } catch (error) {
      if (error instanceof JobNotHeldError)
        log.warn(
          { job_id: job.id, reason: error.reason },
          'job not released: no longer held by this worker',
        );
      else
        log.error(
          { job_id: job.id, err: errorChain(error) },
          'releasing the job failed; its lease will expire and another worker will take it',
        );
      return false;
    }
  }

  return {
    id,
    spec,
    async start() {
      if (loops.length > 0 || stopping) throw new Error('worker already started');
      // A drain request for this id outlives a crash: the worker then starts drained.
      applyDrain(await registry.publish(record()));
      lastRegistryOk = Date.now();
      registryTimer = setInterval(() => void publish(), registryEveryMs);
      stopHeartbeat = startHeartbeat(
        { queue, workerId: id, log, leaseMs, everyMs: heartbeatEveryMs },
        running,
      );
      status = restingStatus();
      await publish();
      metrics?.concurrency.set(concurrency);
      for (let i = 0; i < concurrency; i++) loops.push(slot());
      log.info(
        {
          worker_id: id,
          machine_id: machineId,
          services: spec.services,
          concurrency,
          lease_ms: leaseMs,
          ...(drain ? { drained_by: drain.by } : {}),
        },
        drain ? 'worker started drained (an operator drain is in effect)' : 'worker started',
      );
    },
    stop(stopOptions = {}) {
      stopPromise ??= (async () => {
        const graceMs = stopOptions.graceMs ?? graceDefault;
        stopping = true;
        wakeStop();
        status = 'draining';
        let redisUnanswered = false;
        /** A step of the stop that needs Redis, given `stopRedisMs` to answer. */
        const bounded = async (what: string, step: Promise<unknown>): Promise<boolean> => {
          let timer: NodeJS.Timeout | undefined;
          const answered = await Promise.race([
            step.then(() => true),
            new Promise<false>((resolve) => {
              timer = setTimeout(() => resolve(false), stopRedisMs);
            }),
          ]);
          clearTimeout(timer);
          if (!answered) {
            redisUnanswered = true;
            log.error({ worker_id: id, timeout_ms: stopRedisMs }, `Redis did not answer: ${what}`);
          }
          return answered;
        };
        await bounded('publishing the draining status', publish());
        const atStop = [...running.values()];
        log.info({ worker_id: id, running: atStop.length, grace_ms: graceMs }, 'worker stopping');
        let graceTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(atStop.map((r) => r.settled)),
          new Promise<void>((resolve) => {
            graceTimer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(graceTimer);
        const leftover = [...running.values()];
        const handedBack = new Set<string>();
        await bounded(
          `releasing ${leftover.length} running job(s); their leases will expire`,
          Promise.all(
            leftover.map(async (entry) => {
              if (await release(entry)) handedBack.add(entry.job.id);
            }),
          ),
        );
        // A connector that ignores its abort signal must not hold the process past the grace period.
        let loopsTimer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(loops),
          new Promise<void>((resolve) => {
            loopsTimer = setTimeout(resolve, 5_000);
          }),
        ]);
        clearTimeout(loopsTimer);
        clearInterval(registryTimer);
        clearTimeout(statusTimer);
        stopHeartbeat();
        status = 'stopped';
        await bounded(
          'deregistering; the record expires by itself',
          registry.remove(id).catch((error: unknown) => {
            log.warn(
              { err: errorChain(error) },
              'deregistering failed; the record expires by itself',
            );
          }),
        );
        await Promise.allSettled(options.connectors.map(async (c) => c.close?.()));
        const leftIds = leftover.map((r) => r.job.id);
        const report: StopReport = {
          finished: atStop.map((r) => r.job.id).filter((jobId) => !leftIds.includes(jobId)),
          released: leftIds.filter((jobId) => handedBack.has(jobId)),
          leftToLease: leftIds.filter((jobId) => !handedBack.has(jobId)),
          redisUnanswered,
        };
        log.info(
          {
            worker_id: id,
            released: report.released.length,
            left_to_lease: report.leftToLease.length,
          },
          'worker stopped',
        );
        return report;
      })();
      return stopPromise;
    },
    stats() {
      return { status, drain, lastRegistryOk, stopping, active: [...running.keys()], ...counters };
    },
  };
}
