import type { FastifyPluginCallback } from 'fastify';
import { checkLibrary } from '../library-health.js';
import type { AppContext } from '../context.js';

const HEALTH_TIMEOUT_MS = 1_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not answer within ${String(ms)} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `/health` (unauthenticated, for load balancers) and `/metrics` (Prometheus text). */
export function systemRoutes(ctx: AppContext): FastifyPluginCallback {
  return (app, _options, done) => {
    app.get('/health', async (_request, reply) => {
      const checks: Record<
        string,
        { ok: boolean; reason?: string; reinstalled?: boolean; degraded?: boolean }
      > = {};
      try {
        const pong: string = await withTimeout(ctx.redis.ping(), HEALTH_TIMEOUT_MS, 'redis');
        checks.redis =
          pong === 'PONG' ? { ok: true } : { ok: false, reason: `redis answered ${pong}` };
      } catch (error) {
        checks.redis = { ok: false, reason: `redis unreachable: ${(error as Error).message}` };
      }
      if (checks.redis.ok) {
        try {
          checks.functions = await withTimeout(
            checkLibrary(ctx.redis),
            HEALTH_TIMEOUT_MS,
            'functions library check',
          );
        } catch (error) {
          checks.functions = {
            ok: false,
            reason: `functions library check failed: ${(error as Error).message}`,
          };
        }
      } else {
        checks.functions = { ok: false, reason: 'not checked: redis unreachable' };
      }
      if (checks.redis.ok) {
        try {
          const queue = await withTimeout(ctx.inspector.health(), HEALTH_TIMEOUT_MS, 'queue check');
          checks.queue = queue.degraded
            ? { ok: false, degraded: true, reason: queue.reasons.join('; ') }
            : { ok: true };
        } catch (error) {
          checks.queue = {
            ok: false,
            degraded: true,
            reason: `queue check failed: ${(error as Error).message}`,
          };
        }
      }
      // A degraded queue (expired leases, a service without workers) is not this instance's
      // fault: it keeps serving (200) and says what is wrong; only redis and the library fail it.
      const ok = Object.values(checks).every((c) => c.ok || c.degraded);
      const degraded = Object.values(checks).some((c) => c.degraded);
      const reason = Object.entries(checks)
        .filter(([, c]) => !c.ok)
        .map(([name, c]) => `${name}: ${c.reason ?? 'not ok'}`)
        .join('; ');
      return reply
        .code(ok ? 200 : 503)
        .header('cache-control', 'no-store')
        .send(
          ok && !degraded
            ? { status: 'ok', checks }
            : { status: ok ? 'degraded' : 'unavailable', reason, checks },
        );
    });

    app.get('/metrics', async (_request, reply) => {
      const body = await ctx.metrics.registry.metrics();
      return reply.header('content-type', ctx.metrics.registry.contentType).send(body);
    });
    done();
  };
}
