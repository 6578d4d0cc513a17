import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { processAlive, startRedis, waitFor, type RedisHandle } from '../../src/index.js';

async function pingable(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

describe('startRedis (own server)', () => {
  const savedUrl = process.env.REDIS_URL;
  afterEach(() => {
    if (savedUrl === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = savedUrl;
  });

  it('starts a throwaway 7.x server on a free loopback port and stops it', async () => {
    const redis = await startRedis({ own: true });
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.port).not.toBe(6379);
    expect(redis.version).toMatch(/^[7-9]\.\d+\.\d+/);
    expect(redis.owned).toBe(true);
    expect(await pingable(redis.url)).toBe(true);
    await redis.stop();
    expect(await pingable(redis.url)).toBe(false);
    await redis.stop(); // idempotent
  });

  it('waits out a server that answers PING with an error (still loading), then refuses a Redis older than 7', async () => {
    // A stand-in redis-server: on the first connection PING gets `-LOADING` (as a real one
    // answers while it loads its data), later PING gets PONG and `INFO server` the info of a
    // Redis 6 (its bulk reply split over two writes, as a socket may deliver it). It answers the
    // commands ioredis sends on connect too.
    const dir = mkdtempSync(join(tmpdir(), 'fake-redis-'));
    try {
      const binary = join(dir, 'redis-server');
      writeFileSync(
        binary,
        `#!${process.execPath}
const net = require('node:net');
const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
let connections = 0;
net.createServer((socket) => {
  const loading = connections++ === 0;
  socket.on('data', (chunk) => {
    // Each command is one RESP array whose first element is its name.
    for (const [, name] of chunk.toString().matchAll(/\\*\\d+\\r\\n\\$\\d+\\r\\n(\\w+)\\r\\n/g)) {
      const command = name.toUpperCase();
      if (socket.writableEnded) return;
      // HELLO 3 as a Redis 6 built without RESP3 answers it; CLIENT SETINFO and the rest: OK.
      if (command === 'HELLO') { socket.write("-ERR unknown command 'HELLO'\\r\\n"); continue; }
      if (command !== 'PING' && command !== 'INFO') { socket.write('+OK\\r\\n'); continue; }
      if (command === 'PING') {
        socket.write(loading ? '-LOADING Redis is loading the dataset in memory\\r\\n' : '+PONG\\r\\n');
        continue;
      }
      const info = '# Server\\r\\nredis_version:6.2.14\\r\\nredis_mode:standalone\\r\\n';
      socket.write('$' + Buffer.byteLength(info) + '\\r\\n' + info.slice(0, 20));
      setTimeout(() => socket.writableEnded || socket.write(info.slice(20) + '\\r\\n'), 20);
    }
  });
  socket.on('error', () => {});
}).listen(port, '127.0.0.1');
`,
      );
      chmodSync(binary, 0o755);
      await expect(startRedis({ own: true, binary, startTimeoutMs: 5_000 })).rejects.toThrow(
        /is version 6\.2\.14; jobgate needs Redis 7 or newer/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs two servers at once on different ports, with separate data', async () => {
    await using a = await startRedis({ own: true });
    await using b = await startRedis({ own: true });
    expect(a.port).not.toBe(b.port);
    const ca = new Redis(a.url);
    const cb = new Redis(b.url);
    try {
      await ca.set('k', 'a');
      await cb.set('k', 'b');
      expect(await ca.get('k')).toBe('a');
      expect(await cb.get('k')).toBe('b');
    } finally {
      ca.disconnect();
      cb.disconnect();
    }
  });

  it('restarts from a kept directory on the same port: AOF data survives SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testkit-aof-'));
    try {
      const args = ['--appendonly', 'yes', '--appendfsync', 'always'];
      const first = await startRedis({ own: true, dir, args });
      const client = new Redis(first.url);
      await client.set('survives', 'yes');
      client.disconnect();
      process.kill(first.pid!, 'SIGKILL');
      await first.stop();
      expect(existsSync(dir)).toBe(true);
      await using second = await startRedis({ own: true, dir, port: first.port, args });
      expect(second.url).toBe(first.url);
      const again = new Redis(second.url);
      try {
        expect(await again.get('survives')).toBe('yes');
      } finally {
        again.disconnect();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tears the server down when the test body throws (await using)', async () => {
    let handle: RedisHandle | undefined;
    let pid = 0;
    const body = async (): Promise<void> => {
      await using redis = await startRedis({ own: true });
      handle = redis;
      const client = new Redis(redis.url);
      pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
      client.disconnect();
      throw new Error('test failed mid-way');
    };
    await expect(body()).rejects.toThrow('test failed mid-way');
    expect(pid).toBeGreaterThan(0);
    expect(processAlive(pid)).toBe(false);
    expect(await pingable(handle!.url)).toBe(false);
  });

  // A child node process through tsx: over the level's 30 s on a loaded 2-core CI machine.
  it(
    'a process that exits without stopping its server leaves neither the server nor its directory',
    { timeout: 90_000 },
    async () => {
      // A child process starts a server, reports its pid and data directory, and exits at once.
      const index = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
      const script = `
      const { startRedis } = await import(${JSON.stringify(index)});
      const { Redis } = await import('ioredis');
      const server = await startRedis({ own: true });
      const client = new Redis(server.url);
      const pid = Number(/process_id:(\\d+)/.exec(await client.info('server'))[1]);
      const [, dir] = await client.config('GET', 'dir');
      client.disconnect();
      console.log(JSON.stringify({ pid, dir }));
      process.exit(0);
    `;
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '--eval', script],
        { encoding: 'utf8', env: { ...process.env, REDIS_URL: '' } },
      );
      const { pid, dir } = JSON.parse(out.trim().split('\n').pop()!) as {
        pid: number;
        dir: string;
      };
      expect(existsSync(dir)).toBe(false);
      // SIGKILL is immediate, but the exit is reaped asynchronously.
      await waitFor(() => !processAlive(pid) || undefined, {
        timeoutMs: 5_000,
        what: `redis-server ${pid} gone`,
      });
    },
  );

  it('uses REDIS_URL when set, isolated by namespace, and removes only its own keys', async () => {
    await using server = await startRedis({ own: true });
    process.env.REDIS_URL = server.url;
    const admin = new Redis(server.url);
    try {
      await admin.set('someone-else:key', 'keep');
      const first = await startRedis();
      const second = await startRedis();
      expect(first.owned).toBe(false);
      expect(first.url).toBe(server.url);
      expect(first.namespace).not.toBe(second.namespace);
      await admin.set(`${first.namespace}:job:1`, 'x');
      await admin.set(`{${first.namespace}}:job:2`, 'y');
      await admin.set(`${second.namespace}:job:1`, 'z');
      await first.stop();
      expect(await admin.exists(`${first.namespace}:job:1`, `{${first.namespace}}:job:2`)).toBe(0);
      expect(await admin.get(`${second.namespace}:job:1`)).toBe('z');
      expect(await admin.get('someone-else:key')).toBe('keep');
      expect(await pingable(server.url)).toBe(true); // a shared server is never shut down
      await second.stop();
    } finally {
      admin.disconnect();
    }
  });

  it('reports an unreachable REDIS_URL as infrastructure, within its timeout', async () => {
    await using dead = await startRedis({ own: true });
    const url = dead.url;
    await dead.stop();
    process.env.REDIS_URL = url;
    await expect(startRedis({ startTimeoutMs: 300 })).rejects.toThrow(
      new RegExp(`^Redis did not answer PING at ${url}/? within 300 ms \\(REDIS_URL\\)`),
    );
  });
});
