import { simulationPayloadSchema, type Job } from '@jobgate/core';
import { ConnectorError, sleep, type Connector, type ConnectorContext } from './types.js';

export function createSimulationConnector(
  options: { service?: string; models?: string[] } = {},
): Connector {
  return {
    kind: 'simulation',
    service: options.service ?? 'simulation',
    ...(options.models ? { models: options.models } : {}),
    async run(job: Job, ctx: ConnectorContext): Promise<unknown> {
      const parsed = simulationPayloadSchema.safeParse(job.payload ?? {});
      if (!parsed.success) {
        throw new ConnectorError(
          `Invalid simulation payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
          { serviceType: 'simulation', httpStatus: 400 },
          { code: 'INVALID_PAYLOAD' },
        );
      }
      const p = parsed.data;
      const failing = p.fail && (!p.fail.on_attempts || p.fail.on_attempts.includes(job.attempts));
      const steps = Math.max(p.steps, 1);
      const stepMs = p.duration_ms / steps;
      const failAt = failing ? Math.min(p.fail?.after_step ?? 0, steps) : Infinity;
      for (let step = 1; step <= steps; step++) {
        if (step - 1 >= failAt) break;
        await sleep(stepMs, ctx.signal);
        if (p.steps > 0)
          ctx.progress({
            percent: Math.round((step / steps) * 100),
            message: `step ${step}/${steps}`,
          });
      }
      if (failing && p.fail) {
        const context = {
          serviceType: 'simulation',
          ...(p.fail.http_status === undefined ? {} : { httpStatus: p.fail.http_status }),
          ...(p.fail.response === undefined ? {} : { responseData: p.fail.response }),
          ...(p.fail.headers === undefined ? {} : { headers: p.fail.headers }),
          ...(p.fail.timeout === undefined ? {} : { timeout: p.fail.timeout }),
        };
        throw new ConnectorError(
          p.fail.message,
          context,
          p.fail.code ? { code: p.fail.code } : undefined,
        );
      }
      return (
        p.result ?? {
          simulated: true,
          duration_ms: p.duration_ms,
          steps: p.steps,
          attempt: job.attempts,
        }
      );
    },
  };
}
