// @ts-check
// Bundles src/main.ts for `pnpm start`: workspace packages (@jobgate/*) export TypeScript source,
// which Node cannot load, so they are inlined, and so are most npm dependencies (below).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // npm dependencies loaded at start are inlined: one file to read and compile instead of
  // hundreds found through node_modules (start to ready 0.56 -> 0.45 CPU-s, 2026-12-04). External
  // (node_modules) are the ones imported only when needed: prom-client (WORKER_METRICS_PORT), ws
  // (the comfyui connector) and OpenTelemetry (export on; one copy of its API for SDK and app).
  external: ['prom-client', 'ws', '@opentelemetry/*'],
  // CommonJS dependencies (ioredis, pino, fastify) call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // The integration tests' process cases build their own copy (inside this package, so
  // node_modules still resolve): test/bundle-setup.ts.
  outfile: process.env.WORKER_BUNDLE_OUTFILE ?? 'dist/main.js',
  logLevel: 'info',
});
