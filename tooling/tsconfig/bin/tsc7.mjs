#!/usr/bin/env node
// `tsc7`: TypeScript 7, the native compiler, for the `typecheck` scripts (about 4x less CPU than
// TypeScript 5.9's tsc). It is installed under the alias `typescript7` so that `typescript` stays
// 5.9 for typescript-eslint, which refuses 7, and `tsc` stays 5.9's binary for everything else.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = dirname(createRequire(import.meta.url).resolve('typescript7/package.json'));
await import(pathToFileURL(join(root, 'lib', 'tsc.js')).href);
