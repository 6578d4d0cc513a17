#!/usr/bin/env node
// The gate is TypeScript run from source: tsx's loader is registered in this process (no second
// Node start), since Node 20 cannot load .ts by itself.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
// exit explicitly: a Redis client stuck on a server that never answers must not keep the gate alive.
process.exit(await main(process.argv.slice(2)));
