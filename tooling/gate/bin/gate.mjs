#!/usr/bin/env node
// The gate is TypeScript. It runs from a cached esbuild bundle of its sources, rebuilt whenever a
// source changes (bin/bundle.mjs); from source through tsx's loader when bundling is impossible or
// GATE_FROM_SOURCE=1. Either way in this process: no second Node start.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(PACKAGE, 'src', 'cli.ts');

/** @returns {Promise<{ main: (argv: readonly string[]) => Promise<number> }>} */
async function load() {
  if (process.env.GATE_FROM_SOURCE !== '1') {
    const { bundledCli } = await import('./bundle.mjs');
    const cacheDir =
      process.env.GATE_BUNDLE_DIR ?? join(PACKAGE, 'node_modules', '.cache', 'jobgate-gate');
    const url = await bundledCli(ENTRY, cacheDir);
    // Stack traces name src/*.ts lines, as they did from source.
    process.setSourceMapsEnabled(true);
    if (url) return import(url);
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../src/cli.ts');
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. On a pipe
 * (`pnpm test | tee`, a CI log) Node writes asynchronously, and process.exit drops what is still
 * queued: a long closing list lost its end, the last line included.
 * @param {NodeJS.WriteStream} stream
 */
function flushed(stream) {
  return new Promise((resolve) => {
    if (stream.writableLength === 0 || stream.destroyed) resolve(undefined);
    else stream.write('', () => resolve(undefined));
  });
}

const { main } = await load();
const code = await main(process.argv.slice(2));
// Bounded: a reader that stopped reading must not keep the gate alive either.
let timer;
await Promise.race([
  Promise.all([flushed(process.stdout), flushed(process.stderr)]),
  new Promise((resolve) => (timer = setTimeout(resolve, 10_000))),
]);
clearTimeout(timer);
// exit explicitly: a Redis client stuck on a server that never answers must not keep the gate alive.
process.exit(code);
