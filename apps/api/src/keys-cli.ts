#!/usr/bin/env -S npx tsx
import { runKeysCommand } from './keys-command.js';

process.exitCode = await runKeysCommand(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
