import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@jobgate/testkit';
import { afterEach, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../..', import.meta.url));
const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});

/** Every live process below `pid` (children of children too), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited while we read.
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); its state letter says it has exited.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A process's command line, for naming the survivors of a shutdown. */
function commandOf(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** Runs a bash script; past `timeoutMs` its process group is killed and the run fails with its output. */
function run(
  command: string,
  cwd: string,
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    started.push(child);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
      reject(new Error(`the examples did not finish within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

async function startDev() {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LOG_FORMAT: 'pretty' };
  // No REDIS_URL: `pnpm dev` starts (and must stop) its own throwaway Redis.
  delete env.REDIS_URL;
  // Its own process group, as a terminal gives a foreground job.
  const child = spawn('pnpm', ['dev'], { cwd: root, env, detached: true, stdio: 'pipe' });
  started.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`pnpm dev exited early:\n${output}`);
      return output.includes('stops everything');
    },
    { timeoutMs: 90_000, intervalMs: 200, what: 'pnpm dev printing its examples' },
  );
  return { child, port, output: () => output };
}

/**
 * Waits for every process of the stack to be gone; on failure names the survivors and shows what
 * `pnpm dev` printed, so a shutdown that hangs says which app hung.
 */
async function allGone(dev: Awaited<ReturnType<typeof startDev>>, tree: number[]) {
  try {
    await waitFor(() => tree.every((pid) => !alive(pid)) && !alive(dev.child.pid!), {
      timeoutMs: 30_000,
      what: 'every process of the dev stack gone',
    });
  } catch (error) {
    const left = [dev.child.pid!, ...tree].filter(alive).map(commandOf);
    throw new Error(
      `${(error as Error).message}\nstill running:\n  ${left.join('\n  ')}\npnpm dev printed:\n${dev.output()}`,
      { cause: error },
    );
  }
}

/**
 * Starting five apps from source takes 10-35 s on a loaded 2-core machine; each test's own waits
 * are bounded (start 90 s, stop 30 s), so the test's limit sits above their sum and a hang fails
 * on the wait that names it rather than on the level's 60 s test timeout.
 */
const DEV_TEST_TIMEOUT_MS = 150_000;

it(
  'prints examples that work as printed, and SIGTERM to pnpm dev stops every process',
  async () => {
    const dev = await startDev();
    const banner = dev.output();
    expect(banner).toContain(`http://127.0.0.1:${dev.port}`);
    expect(banner).toMatch(/^ {2}webhook +pid \d+ +http:\/\/127\.0\.0\.1:\d+\/metrics/m);
    expect(banner).toMatch(
      /^ {2}telemetry +pid \d+ +http:\/\/127\.0\.0\.1:\d+\/metrics +traces -> http:\/\/127\.0\.0\.1:\d+$/m,
    );
    const key = /jgk_[A-Za-z0-9_-]+/.exec(banner)?.[0];
    expect(key).toBeDefined();
    // The monitor runs too, with an operator key that opens it (and a customer key that does not).
    const monitor = /^ {2}monitor +pid \d+ +(http:\/\/127\.0\.0\.1:\d+)/m.exec(banner)?.[1];
    const opKey = /operator +(jgo_[A-Za-z0-9_-]+)/.exec(banner)?.[1];
    expect(monitor, banner).toBeDefined();
    expect(opKey, banner).toBeDefined();
    const page = await fetch(`${monitor!}/workers`, {
      headers: { authorization: `Bearer ${opKey!}` },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('dev-worker');
    const refused = await fetch(`${monitor!}/workers`, {
      headers: { authorization: `Bearer ${key!}`, 'x-fragment': '1' },
    });
    expect(refused.status).toBe(401);

    const examples = banner
      .slice(banner.indexOf('Try it'), banner.indexOf('stops everything'))
      .split('\n')
      .slice(1, -1)
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const websocket = examples.find((line) => line.includes('WebSocket('))!;
    expect(websocket).toContain(key);
    const watcher = spawn('bash', ['-c', websocket], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(watcher);
    let events = '';
    watcher.stdout.on('data', (d: Buffer) => (events += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (events += d.toString()));
    await waitFor(() => events.includes('"subscribed"'), {
      timeoutMs: 20_000,
      what: 'the WebSocket example subscribing',
    });

    // The shell examples run one after another in one shell, as a user pastes them.
    const script = ['set -e', ...examples.filter((line) => line !== websocket)].join('\n');
    const { code, output } = await run(script, root);
    expect(code, output).toBe(0);
    const jobId = /^[0-9a-f-]{36}$/m.exec(output)?.[0];
    expect(jobId, output).toBeDefined();
    expect(output).toContain(`"status":"cancelled"`);
    expect(output).toContain('dev-worker');
    // The cancelled job may still be winding down on the worker: draining, then drained.
    expect(output).toMatch(/worker dev-worker (draining|drained): /);
    expect(output).toMatch(/worker dev-worker (idle|busy): claiming again/);
    expect(output).toContain('monitor 200');
    // The cancel the examples made reaches the WebSocket example too.
    await waitFor(() => events.includes('job.cancelled') && events.includes(jobId!), {
      timeoutMs: 20_000,
      what: 'job.cancelled on the WebSocket example',
    });
    watcher.kill('SIGTERM');

    // The collector exported the cancelled job's trace to the local receiver, which printed it.
    await waitFor(
      () =>
        new RegExp(`\\[otlp\\] trace [0-9a-f]{32} job simulation cancelled .*job ${jobId!}`).test(
          dev.output(),
        ),
      { timeoutMs: 20_000, what: "the cancelled job's trace printed by the local OTLP receiver" },
    );

    const tree = descendants(dev.child.pid!);
    // redis-server, the API, the worker, the webhook service, the telemetry collector and the
    // monitor (each a watch runner and its app) and the launcher.
    expect(tree.length).toBeGreaterThanOrEqual(12);
    process.kill(dev.child.pid!, 'SIGTERM');
    await allGone(dev, tree);
    // One request line per HTTP request, readable (not JSON), and no restart without an edit (not
    // even while other projects on the machine run `pnpm install`: see watch-runner.js).
    expect(dev.output()).toMatch(/\[api\] .*INFO.*POST \/api\/jobs 201/);
    expect(dev.output()).toMatch(new RegExp(`\\[api\\] .*DELETE /api/jobs/${jobId!} 200`));
    expect(dev.output()).not.toMatch(/\[api\] \{"level"/);
    expect(dev.output()).not.toContain('Restarting');
  },
  DEV_TEST_TIMEOUT_MS,
);

it(
  "Ctrl-C (SIGINT to the terminal's process group) stops every process, each app once",
  async () => {
    const dev = await startDev();
    const tree = descendants(dev.child.pid!);
    expect(tree.length).toBeGreaterThanOrEqual(12);
    process.kill(-dev.child.pid!, 'SIGINT');
    await allGone(dev, tree);
    // A second signal would make the worker abandon its jobs to lease expiry.
    expect(dev.output()).not.toContain('second signal');
    expect(dev.output()).toContain('shutdown complete');
  },
  DEV_TEST_TIMEOUT_MS,
);
