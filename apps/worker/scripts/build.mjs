// @ts-check
// Bundles src/main.ts for `pnpm start`: workspace packages (@jobgate/*) export TypeScript source,
// which Node cannot load, so they are inlined; the npm packages below stay external (node_modules).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['ioredis', 'pino', 'zod', 'ws', 'prom-client', '@opentelemetry/*'],
  // The integration tests' process cases build their own copy (inside this package, so
  // node_modules still resolve): test/bundle-setup.ts.
  outfile: process.env.WORKER_BUNDLE_OUTFILE ?? 'dist/main.js',
  logLevel: 'info',
});
