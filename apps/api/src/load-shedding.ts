import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './http-error.js';

export interface LoadLimits {
  /** `/api` requests being handled at once; more are answered 503 at once. 0: no limit. */
  maxInFlight: number;
  /** Event-loop delay (max over the last 500 ms) above which new `/api` requests get 503. 0: off. */
  maxEventLoopDelayMs: number;
  /** Pending jobs above which `POST /api/jobs` is answered 429. 0: no limit. */
  maxPendingJobs: number;
}

/**
 * Sheds load at the door instead of slowing every request down: an overloaded API answers at
 * once, with `Retry-After`, so accepted requests keep their latency and memory stays bounded.
 * `/health`, `/metrics` and the WebSocket upgrade are never shed.
 */
export function installLoadShedding(
  app: FastifyInstance,
  limits: LoadLimits,
  pendingJobs: () => Promise<number>,
  onShed: (reason: 'in_flight' | 'event_loop' | 'queue_full') => void = () => {},
): void {
  let inFlight = 0;
  let lagging = false;
  let delay: ReturnType<typeof monitorEventLoopDelay> | undefined;
  let sampler: NodeJS.Timeout | undefined;
  if (limits.maxEventLoopDelayMs > 0) {
    delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    sampler = setInterval(() => {
      lagging = delay!.max / 1e6 > limits.maxEventLoopDelayMs;
      delay!.reset();
    }, 500);
    sampler.unref();
  }
  // The pending count is read at most every 250 ms, off the request path: a shed decision never
  // waits for Redis.
  let pending = 0;
  let pendingAt = 0;
  let reading = false;
  const refreshPending = (): void => {
    if (reading || Date.now() - pendingAt < 250) return;
    reading = true;
    pendingJobs()
      .then((n) => {
        pending = n;
        pendingAt = Date.now();
      })
      .catch(() => undefined)
      .finally(() => {
        reading = false;
      });
  };
  const counted = new WeakSet<object>();

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/') || request.url.startsWith('/api/ws')) return;
    const shed = (
      status: 429 | 503,
      reason: 'in_flight' | 'event_loop' | 'queue_full',
      message: string,
    ) => {
      onShed(reason);
      return reply
        .code(status)
        .header('retry-after', status === 429 ? '2' : '1')
        .send(errorBody(status === 429 ? 'queue_full' : 'overloaded', message));
    };
    if (limits.maxInFlight > 0 && inFlight >= limits.maxInFlight)
      return shed(
        503,
        'in_flight',
        'the API is at its request limit; retry after Retry-After seconds',
      );
    if (lagging)
      return shed(503, 'event_loop', 'the API is overloaded; retry after Retry-After seconds');
    if (
      limits.maxPendingJobs > 0 &&
      request.method === 'POST' &&
      request.url.split('?')[0] === '/api/jobs'
    ) {
      refreshPending();
      if (pending >= limits.maxPendingJobs)
        return shed(
          429,
          'queue_full',
          `${pending} jobs are waiting, the limit is ${limits.maxPendingJobs}; retry after Retry-After seconds`,
        );
    }
    inFlight++;
    counted.add(request);
  });
  app.addHook('onResponse', (request, _reply, done) => {
    if (counted.delete(request)) inFlight--;
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearInterval(sampler);
    delay?.disable();
    done();
  });
}
