import { spawn } from 'node:child_process';
import { LIBRARY_VERSION } from '@jobgate/core';
import { startRedis, uniqueNamespace, within } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../src/auth.js';
import { runKeysCommand } from '../../src/keys-command.js';
import { redisUrl, startApi } from './harness.js';

describe('GET /health', () => {
  it('is 200 when Redis answers and the library is current', async () => {
    await using api = await startApi();
    const response = await api.request('GET', '/health');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      status: 'ok',
      checks: { redis: { ok: true }, functions: { ok: true }, queue: { ok: true } },
    });
  });

  it('reloads a library lost to FUNCTION FLUSH, and is 503 naming the version when Redis runs another one', async () => {
    // A private server: flushing functions on the shared one would break every other test file.
    await using redis = await startRedis({ own: true });
    await using api = await startApi({ redisUrl: redis.url });
    await api.redis.function('FLUSH');
    const healed = await api.request('GET', '/health');
    expect(healed.status).toBe(200);
    expect(healed.body.checks.functions).toEqual({ ok: true, reinstalled: true });
    expect(Number(await api.redis.fcall_ro('jobgate_version', 0))).toBe(LIBRARY_VERSION);

    await api.redis.function(
      'LOAD',
      'REPLACE',
      `#!lua name=jobgate\nredis.register_function{function_name='jobgate_version', callback=function() return ${LIBRARY_VERSION + 1} end, flags={'no-writes'}}`,
    );
    const stale = await api.request('GET', '/health');
    expect(stale.status).toBe(503);
    expect(stale.body.status).toBe('unavailable');
    expect(stale.body.reason).toBe(
      `functions: Redis runs jobgate functions library version ${LIBRARY_VERSION + 1}; this API needs version ${LIBRARY_VERSION}`,
    );
  });

  it('is 503 with the reason when Redis is gone, and never hangs', async () => {
    const redis = await startRedis({ own: true });
    await using api = await startApi({ redisUrl: redis.url });
    await redis.stop();
    const response = await api.request('GET', '/health');
    expect(response.status).toBe(503);
    expect(response.body.reason).toMatch(/^redis: redis unreachable: /);
    expect(response.body.checks.functions.ok).toBe(false);
  });
});

describe('GET /metrics', () => {
  it('exposes requests, latency, queue depth per service and jobs by status', async () => {
    await using api = await startApi();
    const key = await api.customer('metrics');
    for (let i = 0; i < 3; i++)
      await api.request('POST', '/api/jobs', { key, body: { service_required: 'simulation' } });
    const { body } = await api.request('POST', '/api/jobs', {
      key,
      body: { service_required: 'openai', payload: { model: 'gpt-4o-mini' } },
    });
    await api.request('DELETE', `/api/jobs/${body.job.id}`, { key });
    await api.request('POST', '/api/jobs', { key, body: { service_required: 'nope' } });

    const response = await api.request('GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = response.text;
    expect(text).toContain(
      'jobgate_api_http_requests_total{method="POST",route="/api/jobs",status="201"} 4',
    );
    expect(text).toContain(
      'jobgate_api_http_requests_total{method="POST",route="/api/jobs",status="400"} 1',
    );
    expect(text).toContain(
      'jobgate_api_http_requests_total{method="DELETE",route="/api/jobs/:id",status="200"} 1',
    );
    expect(text).toMatch(
      /jobgate_api_http_request_duration_seconds_count\{method="POST",route="\/api\/jobs"\} 5/,
    );
    expect(text).toContain('jobgate_queue_depth{service="simulation"} 3');
    expect(text).toContain('jobgate_queue_depth{service="openai"} 0');
    expect(text).toContain('jobgate_jobs{status="pending"} 3');
    expect(text).toContain('jobgate_jobs{status="cancelled"} 1');
    expect(text).toContain('jobgate_api_jobs_submitted_total 4');
  });
});

describe('API key store', () => {
  it('caches a verified key for the TTL only', async () => {
    const redis = new Redis(redisUrl());
    const namespace = uniqueNamespace('keys');
    let now = 1_000;
    try {
      const admin = new ApiKeyStore(redis, namespace, 0);
      const server = new ApiKeyStore(redis, namespace, 5_000, () => now);
      const created = await admin.create('cached');
      expect(await server.verify(created.key)).toBe('cached');
      await admin.revoke(created.keyId);
      now += 4_999;
      expect(await server.verify(created.key)).toBe('cached');
      now += 2;
      expect(await server.verify(created.key)).toBeUndefined();
    } finally {
      await redis.del(`{${namespace}}:api:customer-keys:cached`);
      redis.disconnect();
    }
  });
});

describe('keys command', () => {
  function io() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  }

  it('creates a key printed once, lists its id and revokes it', async () => {
    const namespace = uniqueNamespace('cli');
    const env = { REDIS_URL: redisUrl(), QUEUE_NAMESPACE: namespace };
    const created = io();
    expect(
      await runKeysCommand(['create', '--customer', 'cli-co', '--label', 'ci'], env, created.io),
    ).toBe(0);
    expect(created.out).toHaveLength(1);
    const key = created.out[0]!;
    expect(key).toMatch(/^jgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.err.join('\n')).toContain('shown only this once');

    const redis = new Redis(redisUrl());
    try {
      expect(await new ApiKeyStore(redis, namespace, 0).verify(key)).toBe('cli-co');
      const listed = io();
      expect(await runKeysCommand(['list', '--customer', 'cli-co'], env, listed.io)).toBe(0);
      const keyId = key.slice(4, 20);
      expect(listed.out[0]).toMatch(new RegExp(`^${keyId}\\t\\d{4}-.*\\tci$`));
      expect(listed.out.join('\n')).not.toContain(key.slice(21));
      expect(await runKeysCommand(['revoke', keyId], env, io().io)).toBe(0);
      expect(await new ApiKeyStore(redis, namespace, 0).verify(key)).toBeUndefined();
      const again = io();
      expect(await runKeysCommand(['revoke', keyId], env, again.io)).toBe(1);
      expect(again.err[0]).toBe(`no key with id ${keyId}`);
    } finally {
      redis.disconnect();
    }
  });

  it.each([
    [['create'], 'keys create needs --customer <id>'],
    [['launch'], 'unknown command "launch"'],
    [['create', '--customer', 'has space'], 'customer id must be'],
  ])('explains %j', async (argv, message) => {
    const out = io();
    const code = await runKeysCommand(
      argv,
      { REDIS_URL: redisUrl(), QUEUE_NAMESPACE: uniqueNamespace('cli') },
      out.io,
    );
    expect(code).toBeGreaterThan(0);
    expect(out.err.join('\n')).toContain(message);
    expect(out.out).toEqual([]);
  });

  it('names a bad configuration', async () => {
    const out = io();
    expect(
      await runKeysCommand(['list', '--customer', 'x'], { REDIS_URL: 'localhost' }, out.io),
    ).toBe(2);
    expect(out.err[0]).toContain('REDIS_URL must be a redis:// or rediss:// URL');
  });

  it('runs as a command line program', async () => {
    const namespace = uniqueNamespace('cli');
    // The CLI as its own Node process, tsx as a loader in it: through `npx tsx` the same run cost
    // about 1 CPU-s more (npx's start, then tsx's CLI starting a second Node for the script).
    const args = ['--import', 'tsx', 'src/keys-cli.ts', 'create', '--customer', 'spawned'];
    const child = spawn(process.execPath, args, {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, REDIS_URL: redisUrl(), QUEUE_NAMESPACE: namespace },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // 'close' (after 'exit' and the last output): stdout is read below.
    const code = await within(new Promise<number | null>((resolve) => child.on('close', resolve)), {
      timeoutMs: 30_000,
      what: 'keys-cli create exiting',
    }).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    });
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toMatch(/^jgk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const redis = new Redis(redisUrl());
    try {
      expect(await new ApiKeyStore(redis, namespace, 0).verify(stdout.trim())).toBe('spawned');
    } finally {
      redis.disconnect();
    }
  });
});
