import type { Inspector, Queue } from '@jobgate/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiKeyStore } from './auth.js';
import type { EventHub } from './event-hub.js';
import type { IdempotencyStore } from './idempotency.js';
import type { ApiMetrics } from './metrics.js';

/** What the API needs of `@jobgate/core`'s queue. */
export type ApiQueue = Pick<Queue, 'submit' | 'get' | 'cancel' | 'list' | 'counts'>;

/**
 * Everything a route plugin may use. Routes receive it from `createServer`, so a new routes file
 * (`app.register(myRoutes(ctx))`) needs no import of the server module.
 */
export interface AppContext {
  redis: Redis;
  queue: ApiQueue;
  namespace: string;
  services: readonly string[];
  keys: ApiKeyStore;
  idempotency: IdempotencyStore;
  hub: EventHub;
  metrics: ApiMetrics;
  /** Read-only queue inspection: waiting reasons, expired leases, services without workers. */
  inspector: Inspector;
  streamKey: string;
  wsPingIntervalMs: number;
  wsMaxBufferedBytes: number;
  /** An `onRequest`/`preValidation` hook: answers 401 or sets `request.customerId`. */
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    customerId: string;
  }
}
