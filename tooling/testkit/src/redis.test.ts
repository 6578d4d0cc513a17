import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { findRedisServer, redact, RedisBinaryNotFoundError, startRedis } from './redis.js';

describe('findRedisServer', () => {
  it('says exactly what is missing and how to install it when no binary is on PATH', () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-redis-'));
    onTestFinished(() => rmSync(empty, { recursive: true, force: true }));
    const saved = process.env.REDIS_SERVER_BIN;
    delete process.env.REDIS_SERVER_BIN;
    try {
      expect(() => findRedisServer(undefined, empty)).toThrow(RedisBinaryNotFoundError);
      expect(() => findRedisServer(undefined, empty)).toThrow(
        /No redis-server binary found on PATH\. .*apt-get install redis-server.*brew install redis/,
      );
    } finally {
      if (saved !== undefined) process.env.REDIS_SERVER_BIN = saved;
    }
  });

  it('rejects an explicit binary that does not exist', () => {
    expect(() => findRedisServer('/nonexistent/redis-server')).toThrow(
      'redis-server not found at /nonexistent/redis-server',
    );
  });

  it('finds an executable redis-server in a PATH directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-redis-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'redis-server');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    const saved = process.env.REDIS_SERVER_BIN;
    delete process.env.REDIS_SERVER_BIN;
    try {
      expect(findRedisServer(undefined, `/nonexistent:${dir}`)).toBe(file);
    } finally {
      if (saved !== undefined) process.env.REDIS_SERVER_BIN = saved;
    }
  });

  it('startRedis rejects with the install hint before touching the network', async () => {
    await expect(startRedis({ own: true, binary: '/nonexistent/redis-server' })).rejects.toThrow(
      RedisBinaryNotFoundError,
    );
  });
});

describe('redact', () => {
  it('hides the password of a Redis URL', () => {
    expect(redact('redis://default:s3cret@cache:6380/0')).toBe('redis://default:***@cache:6380/0');
    expect(redact('not a url')).toBe('<invalid url>');
  });
});
