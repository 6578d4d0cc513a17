// @ts-check
/**
 * `node watch-runner.js --watch <dir> [--watch <dir> ...] -- <node arguments>`: runs
 * `node <node arguments>` and restarts it when a file under a watched folder changes, like
 * `node --watch`, with two differences:
 *
 * - A change is a change of a file's content time or size (or a file appearing or going away),
 *   never of its attributes alone. `node --watch` restarts on any inotify event of a file it
 *   loaded, attributes included, and pnpm hard-links the same store files into every project and
 *   worktree: a `pnpm install` anywhere on the machine adds links to the files the apps loaded
 *   from `node_modules`, changing their link count, and every `node --watch` app restarted
 *   without an edit.
 * - It watches the given folders (an app's `src` and its workspace dependencies' `src`), not
 *   `node_modules`: a dependency upgrade needs a new `pnpm dev` anyway.
 *
 * SIGTERM or SIGINT is passed to the app once; the runner exits when the app has exited. An app
 * that exits on its own is started again at the next change (the runner keeps running, as
 * `node --watch` does). Plain JavaScript so that the runner itself loads no TypeScript loader.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';

const SKIP = new Set(['node_modules', 'dist', '.turbo', '.test-results', '.git']);

const argv = process.argv.slice(2);
const split = argv.indexOf('--');
if (split < 0) {
  console.error('usage: watch-runner.js --watch <dir> ... -- <node arguments>');
  process.exit(2);
}
/** @type {string[]} */
const dirs = [];
for (let i = 0; i < split; i++) {
  if (argv[i] === '--watch' && argv[i + 1] !== undefined)
    dirs.push(/** @type {string} */ (argv[++i]));
}
const nodeArgs = argv.slice(split + 1);
const entry = nodeArgs[nodeArgs.length - 1] ?? '';

/** path -> `<mtimeMs>:<size>` of every file under the watched folders. */
const seen = new Map();
/** @param {string} path */
function signature(path) {
  try {
    const stat = statSync(path);
    return stat.isFile() ? `${String(stat.mtimeMs)}:${String(stat.size)}` : undefined;
  } catch {
    return undefined;
  }
}
/** @param {string} dir */
function snapshot(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const item of entries) {
    if (SKIP.has(item.name)) continue;
    const path = join(dir, item.name);
    if (item.isDirectory()) snapshot(path);
    else if (item.isFile()) seen.set(path, signature(path));
  }
}

/** @type {import('node:child_process').ChildProcess | undefined} */
let child;
let stopping = false;
let restarting = false;
/** @type {NodeJS.Timeout | undefined} */
let debounce;
/** Files changed since the last restart (named in the restart line). */
const pending = new Set();

function start() {
  const app = spawn(process.execPath, nodeArgs, { stdio: 'inherit' });
  child = app;
  app.once('exit', (code, signal) => {
    if (child === app) child = undefined;
    if (stopping) {
      process.exit(code ?? 0);
    } else if (restarting) {
      restarting = false;
      start();
    } else {
      console.log(
        `${code === 0 ? 'Completed' : 'Failed'} running '${entry}'${signal ? ` (${signal})` : ''}. Waiting for file changes before restarting...`,
      );
    }
  });
}

/** @param {string} path */
function changed(path) {
  if (path.split(/[\\/]/).some((part) => SKIP.has(part))) return;
  const now = signature(path);
  if (seen.get(path) === now) return;
  if (now === undefined) seen.delete(path);
  else seen.set(path, now);
  pending.add(path);
  clearTimeout(debounce);
  debounce = setTimeout(restart, 100);
}

function restart() {
  if (stopping) return;
  console.log(`Restarting '${entry}' (changed: ${[...pending].join(', ')})`);
  pending.clear();
  if (child) {
    restarting = true;
    child.kill('SIGTERM');
  } else {
    start();
  }
}

for (const dir of dirs) {
  snapshot(dir);
  try {
    watch(dir, { recursive: true }, (_event, name) => {
      if (name) changed(join(dir, name.toString()));
    });
  } catch {
    // A folder that does not exist: nothing to watch there.
  }
}

/** @param {NodeJS.Signals} signal */
function stop(signal) {
  if (stopping) return;
  stopping = true;
  clearTimeout(debounce);
  if (child) child.kill(signal);
  else process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

start();
