import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Redis } from 'ioredis';
import { uniqueNamespace } from './namespace.js';
import { onProcessDeath } from './process-death.js';
import { waitFor } from './wait-for.js';

export interface RedisHandle extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>` (or the given `REDIS_URL`). */
  url: string;
  port: number;
  /** Server version, e.g. `7.0.15`. */
  version: string;
  /** A namespace owned by this handle; on a shared server, its keys are removed by `stop()`. */
  namespace: string;
  /** True when this handle started (and owns) the redis-server process. */
  owned: boolean;
  /** The redis-server process id when owned (for fault injection: SIGKILL, SIGSTOP). */
  pid?: number;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Always start a private server, even when `REDIS_URL` is set (for tests that flush functions). */
  own?: boolean;
  /** redis-server binary. Default: `$REDIS_SERVER_BIN`, else `redis-server` on PATH. */
  binary?: string;
  /** How long the server may take to answer PING. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Extra redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /**
   * Data directory to use and keep (AOF/RDB survive `stop()`), so a server can be started again
   * from it. Default: a temp directory removed on `stop()`.
   */
  dir?: string;
  /** Listen on this port (e.g. to restart a server where its clients reconnect). Default: a free one. */
  port?: number;
  /**
   * Run the server in a process group of its own, so a terminal's Ctrl-C reaches only the caller,
   * which stops it after the apps that use it (`pnpm dev`). Default false.
   */
  ownProcessGroup?: boolean;
}

export class RedisBinaryNotFoundError extends Error {
  override name = 'RedisBinaryNotFoundError';
}

export class RedisStartError extends Error {
  override name = 'RedisStartError';
}

const INSTALL_HINT =
  'Install Redis 7 or newer: Debian/Ubuntu `apt-get install redis-server`, macOS `brew install redis`; ' +
  'or point REDIS_SERVER_BIN at a redis-server binary, or set REDIS_URL to a running server.';

/** Finds the redis-server binary, or explains exactly what is missing. */
export function findRedisServer(binary?: string, path = process.env.PATH ?? ''): string {
  const explicit = binary ?? process.env.REDIS_SERVER_BIN;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new RedisBinaryNotFoundError(
      `redis-server not found at ${explicit} (not an executable file). ${INSTALL_HINT}`,
    );
  }
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    if (isExecutable(candidate)) return candidate;
  }
  throw new RedisBinaryNotFoundError(`No redis-server binary found on PATH. ${INSTALL_HINT}`);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; bind soon, another process may take it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Servers this process started and has not stopped yet, with their data directories. */
const running = new Map<ChildProcess, string>();
// A test process that dies without teardown (or is stopped by a signal, as vitest stops its
// workers) must not leave redis-server, or its directory, behind. Registered at each start (one
// entry: onProcessDeath keeps a set), so a process that never starts one adds no listener.
function killRunning(): void {
  for (const [child, dir] of running) {
    child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

async function ping(url: string, timeoutMs: number): Promise<{ client: Redis; version: string }> {
  // Loaded here, not at the top: a process that never starts Redis does not load it.
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: Math.min(timeoutMs, 2_000),
    enableOfflineQueue: false,
    // Our own PING is the readiness check: an error reply (`-LOADING`) rejects it and the caller
    // tries again on a new connection.
    enableReadyCheck: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    const info = await client.info('server');
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1]?.trim() ?? 'unknown';
    return { client, version };
  } catch (error) {
    client.disconnect();
    throw error;
  }
}

function duration(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

function major(version: string): number {
  return Number.parseInt(version.split('.')[0] ?? '', 10);
}

function requireRedis7(version: string, where: string): void {
  if (!(major(version) >= 7)) {
    throw new RedisStartError(
      `Redis at ${where} is version ${version}; jobgate needs Redis 7 or newer (Redis Functions). ${INSTALL_HINT}`,
    );
  }
}

/** Removes every key of a namespace (`ns:*`, `{ns}*`) with SCAN (never KEYS), on a shared server. */
export async function dropNamespace(client: Redis, namespace: string): Promise<void> {
  for (const pattern of [`${namespace}:*`, `{${namespace}}*`, `${namespace}`]) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  }
}

async function useExisting(url: string, timeoutMs: number): Promise<RedisHandle> {
  let probe: Awaited<ReturnType<typeof ping>>;
  try {
    probe = await waitFor(() => ping(url, timeoutMs), {
      timeoutMs,
      intervalMs: 50,
      what: `Redis at ${redact(url)} answering PING`,
    });
  } catch (error) {
    throw new RedisStartError(
      `Redis did not answer PING at ${redact(url)} within ${duration(timeoutMs)} (REDIS_URL). ${(error as Error).message}`,
    );
  }
  requireRedis7(probe.version, redact(url));
  const namespace = uniqueNamespace();
  const { client, version } = probe;
  const port = Number(new URL(url).port || 6379);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      await dropNamespace(client, namespace);
    } finally {
      client.disconnect();
    }
  };
  return { url, port, version, namespace, owned: false, stop, [Symbol.asyncDispose]: stop };
}

/** `redis://user:secret@host` -> `redis://user:***@host`: URLs end up in error messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}

async function spawnServer(binary: string, options: StartRedisOptions): Promise<RedisHandle> {
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let lastError: unknown;
  // The free port can be taken between probing and binding: try a few ports.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const keepDir = options.dir !== undefined;
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'jobgate-redis-'));
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...(options.args ?? []),
    ];
    const child = spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.ownProcessGroup ?? false,
    });
    running.set(child, keepDir ? '' : dir);
    onProcessDeath(killRunning);
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exited = true;
        running.delete(child);
        resolve();
      });
      child.once('error', (error) => {
        lastError = error;
      });
    });
    const url = `redis://127.0.0.1:${port}`;
    try {
      const { client, version } = await waitFor(
        async () => {
          if (exited) throw new RedisStartError(`redis-server exited: ${output.trim()}`);
          return ping(url, timeoutMs);
        },
        { timeoutMs, intervalMs: 5, what: `redis-server on port ${port} answering PING` },
      );
      client.disconnect();
      requireRedis7(version, url);
      let stopped = false;
      const stop = async (): Promise<void> => {
        if (stopped) return;
        stopped = true;
        if (!exited) {
          child.kill('SIGTERM');
          const killTimer = setTimeout(() => child.kill('SIGKILL'), 2_000);
          await exitedPromise;
          clearTimeout(killTimer);
        }
        if (!keepDir) rmSync(dir, { recursive: true, force: true });
      };
      return {
        url,
        port,
        version,
        namespace: uniqueNamespace(),
        owned: true,
        ...(child.pid === undefined ? {} : { pid: child.pid }),
        stop,
        [Symbol.asyncDispose]: stop,
      };
    } catch (error) {
      lastError = error;
      if (!exited) {
        child.kill('SIGKILL');
        await exitedPromise;
      }
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
      if (options.port !== undefined || !/address already in use/i.test(output)) break;
    }
  }
  if (lastError instanceof RedisStartError) throw lastError;
  throw new RedisStartError(
    `redis-server (${binary}) did not answer PING within ${duration(timeoutMs)}: ${(lastError as Error | undefined)?.message ?? 'unknown error'}`,
  );
}

/**
 * A Redis for one test file (or one gate run): a throwaway `redis-server` on a free loopback
 * port with no persistence, or, when `REDIS_URL` is set, that server with a private namespace.
 * Never the fixed port 6379.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisHandle> {
  const shared = process.env.REDIS_URL;
  if (shared && !options.own) return useExisting(shared, options.startTimeoutMs ?? 10_000);
  return spawnServer(findRedisServer(options.binary), options);
}
