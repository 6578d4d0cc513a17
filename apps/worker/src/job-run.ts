/**
 * One job's run on this worker: its time limit, throttled progress and cleanup, plus the one
 * heartbeat that extends the leases of every job the worker runs. Losing a job (the queue says it
 * is no longer held: cancelled, lease lost) aborts its run through one handler, `holdLost`.
 */
import { JobNotHeldError, redactSecrets, type Job, type Queue } from '@jobgate/core';
import {
  JobTimeoutError,
  type Connector,
  type ConnectorContext,
  type ProgressUpdate,
} from './connectors/types.js';
import { errorChain } from './failure-report.js';
import type { Logger } from './logger.js';

export class ShutdownAbort extends Error {
  override name = 'ShutdownAbort';
}

export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

/** A job this worker runs. */
export interface Running {
  readonly job: Job;
  readonly controller: AbortController;
  /** Set when the queue refused a call for the job: it is no longer ours (cancelled, lease lost). */
  lost: string | undefined;
  /** Set when a shutdown handed the job back. */
  released: boolean;
  readonly startedAt: number;
  /** Resolves once the worker is done with the job (reported, dropped or released). */
  readonly settled: Promise<void>;
  settle(): void;
}

export function createRunning(job: Job): Running {
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return {
    job,
    controller: new AbortController(),
    lost: undefined,
    released: false,
    startedAt: Date.now(),
    settled,
    settle: () => settle(),
  };
}

/** The one answer to JobNotHeldError, from any call: stop the run, remember why. */
export function holdLost(entry: Running, error: JobNotHeldError): void {
  entry.lost ??= error.reason;
  entry.controller.abort(new LeaseLost(error.message));
}

/** A catch handler for a background queue call about `entry` (heartbeat, progress). */
export function onQueueError(entry: Running, log: Logger, what: string) {
  return (error: unknown): void => {
    if (error instanceof JobNotHeldError) holdLost(entry, error);
    else log.warn({ job_id: entry.job.id, err: errorChain(error) }, `${what} failed`);
  };
}

export interface RunDeps {
  queue: Queue;
  workerId: string;
  log: Logger;
  /** Per-job time limit unless the payload's `timeout_ms` says otherwise. */
  jobTimeoutMs: number;
  /** Minimum interval between progress writes per job. */
  progressEveryMs: number;
}

export type RunOutcome =
  | { kind: 'completed'; result: unknown }
  | { kind: 'failed'; error: unknown }
  /** Lost or released while it ran: nothing is reported for it. */
  | { kind: 'dropped' };

function payloadTimeout(job: Job): number | undefined {
  const value = (job.payload as { timeout_ms?: unknown } | null)?.timeout_ms;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

export class MissingConnectorError extends Error {
  override name = 'MissingConnectorError';
  // The classifier's configuration rule: another attempt on this worker fails the same way.
  readonly code = 'CONFIG_ERROR';
  constructor(service: string) {
    super(`no connector serves ${service} on this worker (configuration error)`);
  }
}

/** Runs the job through its connector within its time limit; never throws. */
export async function runJob(
  entry: Running,
  connector: Connector | undefined,
  deps: RunDeps,
): Promise<RunOutcome> {
  const { job, controller } = entry;
  const { queue, workerId, log } = deps;
  const limit = payloadTimeout(job) ?? deps.jobTimeoutMs;
  const deadline = setTimeout(() => controller.abort(new JobTimeoutError(limit)), limit);

  // Throttled: a connector may report every sampler step; the queue needs a few per second.
  let lastSent = 0;
  let pendingUpdate: ProgressUpdate | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  const flushProgress = (): void => {
    progressTimer = undefined;
    const update = pendingUpdate;
    pendingUpdate = undefined;
    if (!update || entry.lost || entry.released) return;
    lastSent = Date.now();
    const clean = {
      ...(update.percent === undefined
        ? {}
        : { percent: Math.max(0, Math.min(100, update.percent)) }),
      ...(update.message === undefined
        ? {}
        : { message: redactSecrets(update.message).slice(0, 1_000) }),
    };
    queue.progress(job.id, workerId, clean).catch(onQueueError(entry, log, 'progress update'));
  };
  const ctx: ConnectorContext = {
    signal: controller.signal,
    workerId,
    log,
    progress(update) {
      pendingUpdate = update;
      if (progressTimer) return;
      progressTimer = setTimeout(
        flushProgress,
        Math.max(0, lastSent + deps.progressEveryMs - Date.now()),
      );
    },
  };

  try {
    if (!connector) throw new MissingConnectorError(job.service_required);
    const result = await connector.run(job, ctx);
    return entry.lost || entry.released ? { kind: 'dropped' } : { kind: 'completed', result };
  } catch (error) {
    return entry.lost || entry.released ? { kind: 'dropped' } : { kind: 'failed', error };
  } finally {
    clearTimeout(deadline);
    if (progressTimer) clearTimeout(progressTimer);
  }
}

/**
 * One timer for the whole worker: every tick extends the lease of each job it runs. The calls of
 * one tick go to Redis together (the queue coalesces them), instead of a timer and a call per job.
 * A job's first heartbeat comes at most `everyMs` after its claim, as with a timer per job.
 */
export function startHeartbeat(
  deps: { queue: Queue; workerId: string; log: Logger; leaseMs: number; everyMs: number },
  running: ReadonlyMap<string, Running>,
): () => void {
  const timer = setInterval(() => {
    for (const entry of running.values()) {
      if (entry.lost || entry.released) continue;
      deps.queue
        .heartbeat(entry.job.id, deps.workerId, deps.leaseMs)
        .catch(onQueueError(entry, deps.log, 'heartbeat'));
    }
  }, deps.everyMs);
  return () => clearInterval(timer);
}
