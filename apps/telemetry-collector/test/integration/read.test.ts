import { dropNamespace, uniqueNamespace } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readNewEntries, type Entry } from '../../src/read.js';
import { redisUrl } from './harness.js';

const redis = new Redis(redisUrl());
const namespaces: string[] = [];
afterEach(async () => {
  for (const ns of namespaces.splice(0)) await dropNamespace(redis, ns);
});
afterAll(() => redis.disconnect());

/** Values JSON has to escape, non-ASCII text and bytes that are not UTF-8. */
const awkward: (string | Buffer)[] = [
  '',
  'plain',
  '007',
  '1e5',
  'a "quoted" \\ back\\slash / slash',
  'line\nbreak\r\ttab \u0001\u001f\u007f',
  'ünïcödé 日本語 🎉 \u2028\u2029',
  JSON.stringify({ worker_id: 'w', nested: { a: [1, 'x', null] }, msg: 'say "hi"\n' }),
  'x'.repeat(70_000),
  Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc3]),
];

describe('readNewEntries (XREADGROUP through one string)', () => {
  it('reads the entries and makes the pending list XREADGROUP does, in batches, [] when none are new', async () => {
    const ns = uniqueNamespace('read');
    namespaces.push(ns);
    const stream = `{${ns}}:events`;
    for (let i = 0; i < 25; i++) {
      const fields: (string | Buffer)[] = [];
      awkward.forEach((value, k) => {
        if ((i + k) % 3 !== 0) fields.push(`f${String(k)}`, value);
      });
      await redis.xadd(stream, '*', 'type', 'job.progress', ...fields);
    }
    await redis.xgroup('CREATE', stream, 'script', '0');
    await redis.xgroup('CREATE', stream, 'plain', '0');

    const viaScript: Entry[][] = [];
    const viaCommand: Entry[][] = [];
    for (;;) {
      const a = await readNewEntries(redis, stream, 'script', 'c', 10);
      const reply = (await redis.xreadgroup(
        'GROUP',
        'plain',
        'c',
        'COUNT',
        10,
        'STREAMS',
        stream,
        '>',
      )) as [string, Entry[]][] | null;
      const b = reply?.[0]?.[1] ?? [];
      expect(a).toEqual(b);
      if (b.length === 0) break;
      viaScript.push(a);
      viaCommand.push(b);
    }
    expect(viaScript.map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(viaScript.flat()[7]![1]).toContain('ünïcödé 日本語 🎉 \u2028\u2029');

    const pending = async (group: string) =>
      ((await redis.xpending(stream, group, '-', '+', 100)) as [string, string][]).map(
        ([id, consumer]) => [id, consumer],
      );
    expect(await pending('script')).toEqual(await pending('plain'));
    expect((await pending('script')).length).toBe(25);
    expect(await readNewEntries(redis, stream, 'script', 'c', 10)).toEqual([]);
  });

  it('fails like XREADGROUP when the group is missing (NOGROUP: the collector recreates it)', async () => {
    const ns = uniqueNamespace('read');
    namespaces.push(ns);
    const stream = `{${ns}}:events`;
    await redis.xadd(stream, '*', 'type', 'x');
    await expect(readNewEntries(redis, stream, 'missing', 'c', 10)).rejects.toThrow(/NOGROUP/);
  });
});
