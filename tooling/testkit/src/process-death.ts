/**
 * Clean-up that must run however this process ends. Node runs `'exit'` handlers on a normal exit
 * and `process.exit()`, but not when a signal ends the process, and vitest stops its fork workers
 * with SIGTERM (SIGKILL 500 ms later). So a test that timed out, whose own clean-up never ran,
 * left its redis-servers and app processes running after vitest had finished. Here the hooks run
 * on `'exit'` and on SIGTERM, SIGINT and SIGHUP when nothing else handles them (the process then
 * ends by that signal as it would have).
 */
const hooks = new Set<() => void>();
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      // One failing clean-up must not keep the others from running.
    }
  }
}

/**
 * Runs `hook` (synchronously, once) when this process exits, or when SIGTERM, SIGINT or SIGHUP
 * arrives and nothing else listens for it. Registering the same function again adds nothing.
 */
export function onProcessDeath(hook: () => void): void {
  hooks.add(hook);
  if (installed) return;
  installed = true;
  process.once('exit', runHooks);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // A process with its own handler (the gate, an app) shuts down its own way, and its exit
      // runs the hooks; only where the signal would have ended the process at once do they run
      // here, and then the process ends by that signal as it would have.
      if (process.listenerCount(signal) > 1) return;
      runHooks();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Whether a process with this pid exists (signal 0: nothing is sent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
