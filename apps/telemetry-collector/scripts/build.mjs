// @ts-check
// Bundles src/main.ts for `pnpm start`: workspace packages (@jobgate/*) export TypeScript source,
// which Node cannot load, so they are inlined; npm dependencies stay external (node_modules).
import { build } from 'esbuild';

await build({
  // The benchmark bundles other copies of src/ (before/after) the same way.
  entryPoints: [process.env.COLLECTOR_BUNDLE_ENTRY ?? 'src/main.ts'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The bundle test builds elsewhere (inside this package, so node_modules still resolve).
  outfile: process.env.COLLECTOR_BUNDLE_OUTFILE ?? 'dist/main.js',
  sourcemap: true,
  logLevel: 'info',
  plugins: [
    {
      name: 'external-npm-packages',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.path.startsWith('@jobgate/') ? undefined : { path: args.path, external: true },
        );
      },
    },
  ],
});
