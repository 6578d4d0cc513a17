/**
 * The encoding lever, measured in isolation (issue 13): what one job-state decode + encode costs
 * inside Redis's Lua with cjson (what the library does on every transition) against cmsgpack
 * (built into Redis's Lua), and against keeping the hot fields (status, attempts, worker, lease)
 * in a hash of their own and leaving the cold JSON untouched (HMGET/HSET of a few fields).
 *
 * The state is a real one: a job submitted and claimed through the library on a throwaway Redis,
 * read back from `{ns}:jobs`. Each variant runs N times inside one EVAL and is timed with Redis's
 * TIME, so the figures are Redis CPU per job, free of round trips.
 *
 *   pnpm --filter @jobgate/core bench:encoding   (N=20000 ROUNDS=3; under the heavy lock)
 */
import { cpus, loadavg } from 'node:os';
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { createQueue } from '../src/index.js';

const N = Number(process.env.N ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const LUA = `
local mode, n, raw = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local function t() local x = redis.call('TIME'); return tonumber(x[1]) * 1e6 + tonumber(x[2]) end
local packed = cmsgpack.pack(cjson.decode(raw))
redis.call('HSET', KEYS[1], 'json', raw, 'mp', packed)
local hot = cjson.decode(raw)
redis.call('HSET', KEYS[2], 'status', hot.status, 'attempts', hot.attempts, 'worker_id', hot.worker_id or '',
  'claimed_at', hot.claimed_at or 0, 'lease_expires_at', hot.lease_expires_at or 0)
local t0 = t()
for i = 1, n do
  if mode == 'cjson' then
    local st = cjson.decode(redis.call('HGET', KEYS[1], 'json'))
    st.attempts = st.attempts + 1
    st.lease_expires_at = i
    redis.call('HSET', KEYS[1], 'json', cjson.encode(st))
  elseif mode == 'cmsgpack' then
    local st = cmsgpack.unpack(redis.call('HGET', KEYS[1], 'mp'))
    st.attempts = st.attempts + 1
    st.lease_expires_at = i
    redis.call('HSET', KEYS[1], 'mp', cmsgpack.pack(st))
  elseif mode == 'hot' then
    local h = redis.call('HMGET', KEYS[2], 'status', 'attempts', 'worker_id', 'lease_expires_at')
    redis.call('HSET', KEYS[2], 'attempts', tonumber(h[2]) + 1, 'lease_expires_at', i)
  elseif mode == 'empty' then
    redis.call('HGET', KEYS[1], 'json')
    redis.call('HSET', KEYS[1], 'x', i)
  end
end
return { t() - t0, #raw, #packed }
`;

const redisServer = await startRedis({ own: true });
try {
  const redis = new Redis(redisServer.url);
  const namespace = 'bench-enc';
  const queue = await createQueue({ redis, namespace });
  await queue.submit({
    service_required: 'svc-0',
    priority: 2,
    customer_id: 'customer-1',
    workflow_id: 'wf-1',
    payload: { prompt: 'a no-op job like the throughput bench' },
  });
  const job = await queue.claim({ worker_id: 'bench-worker-0', services: ['svc-0'] });
  if (!job) throw new Error('no job claimed');
  const raw = await redis.hget(`{${namespace}}:jobs`, job.id);
  if (!raw) throw new Error('no job state found');
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}, redis ${redisServer.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(`state: ${raw.length} bytes of JSON; N=${N} per variant and round`);
  const modes = ['empty', 'cjson', 'cmsgpack', 'hot'] as const;
  const best = new Map<string, number>();
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const mode of modes) {
      const [us, , packed] = (await redis.eval(
        LUA,
        2,
        `{${namespace}}:enc`,
        `{${namespace}}:hot`,
        mode,
        N,
        raw,
      )) as [number, number, number];
      const per = us / N;
      best.set(mode, Math.min(best.get(mode) ?? Infinity, per));
      line.push(`${mode} ${per.toFixed(2)} us${mode === 'cmsgpack' ? ` (${packed} bytes)` : ''}`);
    }
    console.log(`round ${round}: ${line.join(', ')}`);
  }
  const empty = best.get('empty')!;
  console.log('| per state read + write (best round) | us | minus the bare HGET + HSET |');
  console.log('| --- | ---: | ---: |');
  for (const mode of modes) {
    const v = best.get(mode)!;
    console.log(`| ${mode} | ${v.toFixed(2)} | ${(v - empty).toFixed(2)} |`);
  }
  await queue.close();
  redis.disconnect();
} finally {
  await redisServer.stop();
}
