import { createQueue, type Queue } from '@jobgate/core';
import { dropNamespace, uniqueNamespace, WaitForTimeoutError, within } from '@jobgate/testkit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { ApiKeyStore } from '../../src/auth.js';
import { createServer, type ServerOptions } from '../../src/server.js';

export interface Api extends AsyncDisposable {
  app: FastifyInstance;
  url: string;
  wsUrl: string;
  namespace: string;
  redis: Redis;
  queue: Queue;
  keys: ApiKeyStore;
  /** Creates an API key for a customer and returns it. */
  customer(id: string): Promise<string>;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** Every stream entry of the namespace's event stream (for "nothing stored" checks). */
  streamLength(): Promise<number>;
  close(): Promise<void>;
}

export interface RequestOptions {
  key?: string;
  body?: unknown;
  /** Sent as is, instead of JSON of `body`. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url)
    throw new Error(
      'REDIS_URL is not set: run through the integration preset (vitest -c vitest.integration.config.ts)',
    );
  return url;
}

/** An API on a free loopback port with its own namespace on the test Redis; removed on dispose. */
export async function startApi(
  options: Partial<ServerOptions> & { redisUrl?: string } = {},
): Promise<Api> {
  const namespace = options.namespace ?? uniqueNamespace('api');
  const redis = new Redis(options.redisUrl ?? redisUrl(), { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const queue = await createQueue({ redis, namespace });
  const app = await createServer({
    redis,
    queue,
    namespace,
    services: options.services ?? ['simulation', 'openai'],
    ...options,
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const keys = new ApiKeyStore(redis, namespace, 0);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await app.close();
    await queue.close();
    await dropNamespace(redis, namespace).catch(() => undefined);
    redis.disconnect();
  };
  return {
    app,
    url: address,
    wsUrl: `${address.replace(/^http/, 'ws')}/api/ws`,
    namespace,
    redis,
    queue,
    keys,
    customer: async (id) => (await keys.create(id)).key,
    request: async (method, path, req = {}) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.key) headers.authorization = `Bearer ${req.key}`;
      let body: string | Buffer | undefined;
      if (req.raw !== undefined) body = req.raw;
      else if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${address}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
    streamLength: async () => redis.xlen(`{${namespace}}:events`),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A WebSocket client that records every message it gets. */
export interface WsClient extends AsyncDisposable {
  socket: WebSocket;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  messages: any[];
  send(message: unknown): void;
  /** Resolves with the first recorded message (from `from` on) matching the predicate. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  next(predicate: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  events(): any[];
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export async function connectWs(
  url: string,
  key: string | undefined,
  options: { autoPong?: boolean; openTimeoutMs?: number } = {},
): Promise<WsClient> {
  const socket = new WebSocket(url, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
    autoPong: options.autoPong ?? true,
  });
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse((data as Buffer).toString('utf8')));
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of [...waiters]) wake();
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)),
    );
  });
  try {
    await within(opened, {
      timeoutMs: options.openTimeoutMs ?? 10_000,
      what: `the websocket to ${url} opening`,
    });
  } catch (error) {
    // A server that never answered the upgrade: drop the half-open connection.
    if (error instanceof WaitForTimeoutError) socket.terminate();
    throw error;
  }
  const client: WsClient = {
    socket,
    messages,
    send: (message) => socket.send(JSON.stringify(message)),
    next: (predicate, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = messages.find(predicate);
          if (found !== undefined) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `websocket message not met within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      }),
    events: () =>
      messages
        .filter((m) => (m as { type?: string }).type === 'event')
        .map((m) => (m as { event: unknown }).event),
    closed,
    close: async () => {
      if (socket.readyState === socket.CLOSED) return;
      socket.close();
      // A client that stopped reading never sees the closing handshake: end it after a moment.
      const timer = setTimeout(() => socket.terminate(), 1_000);
      await closed;
      clearTimeout(timer);
    },
    [Symbol.asyncDispose]: async () => client.close(),
  };
  await client.next((m) => m.type === 'ready');
  return client;
}
