// @ts-check
// Bundles src/main.ts for `pnpm start`: workspace packages (@jobgate/*) export TypeScript source,
// which Node cannot load, so they are inlined, and so are the npm dependencies the service loads
// at start: one file to read and compile instead of hundreds found through node_modules (a start
// to ready 0.90 -> 0.67 CPU-s for the API, 2026-12-04). OpenTelemetry stays external
// (node_modules): its SDK is imported only when export is on, and the API package must be one
// copy for the SDK and the app.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The bundle test builds elsewhere (inside this package, so node_modules still resolve).
  outfile: process.env.API_BUNDLE_OUTFILE ?? 'dist/main.js',
  sourcemap: true,
  logLevel: 'info',
  external: ['@opentelemetry/*'],
  // CommonJS dependencies (ioredis, pino, fastify) call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
