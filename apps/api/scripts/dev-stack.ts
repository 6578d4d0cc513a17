/**
 * `pnpm dev` at the root: a throwaway Redis, the API and one simulation worker, for trying the
 * system by hand. Prints an API key for customer `dev`; Ctrl-C stops everything and removes Redis.
 * REDIS_URL, if set, is used instead of a throwaway server; PORT defaults to 3000.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis } from '@jobgate/testkit';
import { Redis } from 'ioredis';
import { ApiKeyStore } from '../src/auth.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const namespace = process.env.QUEUE_NAMESPACE ?? 'jq';
const port = process.env.PORT ?? '3000';

const redis = await startRedis({ own: !process.env.REDIS_URL });
const admin = new Redis(redis.url);
const { key } = await new ApiKeyStore(admin, namespace, 0).create('dev', 'pnpm dev');
admin.disconnect();

const children: ChildProcess[] = [];
function run(name: string, app: string, env: Record<string, string>): void {
  const child = spawn(process.execPath, ['--import', 'tsx', '--watch', 'src/main.ts'], {
    cwd: `${root}apps/${app}`,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = (chunk: Buffer): string =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((line) => `[${name}] ${line}\n`)
      .join('');
  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
  children.push(child);
}

run('api', 'api', {
  REDIS_URL: redis.url,
  QUEUE_NAMESPACE: namespace,
  PORT: port,
  HOST: '127.0.0.1',
});
run('worker', 'worker', {
  REDIS_URL: redis.url,
  QUEUE_NAMESPACE: namespace,
  WORKER_CONNECTORS: 'simulation',
  WORKER_ID: 'dev-worker-1',
});

console.log(`
jobgate dev stack
  redis   ${redis.url}${redis.owned ? ' (throwaway)' : ''}
  api     http://127.0.0.1:${port}   (WebSocket ws://127.0.0.1:${port}/api/ws)
  key     ${key}   (customer "dev")

  curl -s -XPOST http://127.0.0.1:${port}/api/jobs -H 'authorization: Bearer ${key}' \\
    -H 'content-type: application/json' -d '{"service_required":"simulation","payload":{"duration_ms":2000,"steps":4}}'
`);

let stopping = false;
/** Ctrl-C reaches the children too (same process group): then only wait, or they see two signals. */
async function stop(forward: boolean): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          // A Ctrl-C the child missed (signal sent to this process only) is forwarded after a moment.
          setTimeout(() => child.kill('SIGTERM'), forward ? 0 : 2_000).unref();
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }),
    ),
  );
  await redis.stop();
  process.exit(0);
}
process.on('SIGINT', () => void stop(false));
process.on('SIGTERM', () => void stop(true));
