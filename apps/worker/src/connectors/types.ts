import type { FailureContext, Job } from '@jobgate/core';
import type { Logger } from '../logger.js';

export interface ProgressUpdate {
  /** 0-100. */
  percent?: number;
  message?: string;
}

export interface ConnectorContext {
  /** Aborted when the job is cancelled, times out, loses its lease, or the worker shuts down. */
  signal: AbortSignal;
  /** Reports progress; the worker throttles and forwards it to the queue. */
  progress(update: ProgressUpdate): void;
  log: Logger;
  workerId: string;
}

/**
 * One way of executing jobs of one service. `run` resolves with the job result or throws; a
 * thrown `ConnectorError` carries what the classifier needs (HTTP status, body, headers).
 */
export interface Connector {
  /** `simulation`, `openai`, `comfyui`. */
  readonly kind: string;
  /** The `service_required` this connector serves (defaults to its kind). */
  readonly service: string;
  /** Models this connector can run, advertised in the worker's capabilities. */
  readonly models?: readonly string[];
  run(job: Job, ctx: ConnectorContext): Promise<unknown>;
  close?(): Promise<void>;
}

/** A failure a connector understood: the message plus the context the classifier reads. */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
  constructor(
    message: string,
    readonly context: FailureContext,
    options?: { cause?: unknown; code?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.code) this.code = options.code;
  }
  code?: string;
}

/** The job ran past its time limit (the worker's deadline, not an upstream's). */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  readonly context: FailureContext = { timeout: true };
  constructor(readonly timeoutMs: number) {
    super(`Job exceeded its time limit of ${timeoutMs} ms`);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
