import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { waitFor } from '@jobgate/testkit';
import { describe, expect, it } from 'vitest';
import { ANSI } from '../../src/turbo.js';
import { cleanEnv, WORKSPACE } from '../fixture.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('pnpm test:ui (ADR-002 R5)', () => {
  it('serves the Vitest UI over every package’s unit tests from the root', async () => {
    const port = await freePort();
    // `--standalone --watch`: the UI without running every package's unit tests first (about 2
    // CPU-s on two cores until the UI answers and this test stops it, more under load). The
    // projects are still resolved and the UI served, which is what this test checks.
    const child = spawn(
      'pnpm',
      [
        'test:ui',
        '--standalone',
        '--watch',
        '--open=false',
        '--api.host=127.0.0.1',
        `--api.port=${port}`,
      ],
      { cwd: WORKSPACE, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await waitFor(() => /UI started at (http\S+)/.exec(output)?.[1], {
        timeoutMs: 60_000,
        what: 'the Vitest UI to print its URL',
      });
      // The tokened URL sets the session cookie and redirects to the UI, as a browser would follow.
      const first = await fetch(url.replace(ANSI, ''), { redirect: 'manual' });
      expect(first.status).toBe(302);
      const cookie = first.headers.get('set-cookie')?.split(';')[0] ?? '';
      const page = await fetch(new URL(first.headers.get('location') ?? '/', url), {
        headers: { cookie },
      });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<title>Vitest<\/title>/i);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});
