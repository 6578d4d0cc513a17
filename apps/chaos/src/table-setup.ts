import { clearFigures, writeTable } from './figures.js';

export function setup(): void {
  clearFigures();
}

export function teardown(): void {
  process.stdout.write(`\n${writeTable()}`);
}
