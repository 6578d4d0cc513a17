import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  /** Seconds the oldest due delivery has waited past its due time (0 when none). */
  queueLagSeconds(): Promise<number>;
  /** Deliveries due now and not yet claimed. */
  dueDeliveries(): Promise<number>;
  /** Stream entries not yet read by the consumer group. */
  streamLag(): Promise<number>;
  inFlight(): number;
}

export function createMetrics(sources: MetricSources, options: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry });
  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Delivery attempts by outcome: succeeded, retry (scheduled again), failed, dead (schedule spent), disabled (410)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const attemptLatency = new Histogram({
    name: 'webhook_attempt_duration_seconds',
    help: 'Time from sending a request to its response or error',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'webhook_dead_letters_total',
    help: 'Deliveries that used up the retry schedule',
    registers: [registry],
  });
  const eventsConsumed = new Counter({
    name: 'webhook_events_consumed_total',
    help: 'Job events read from the stream (matched to endpoints or not)',
    registers: [registry],
  });
  const eventToSend = new Histogram({
    name: 'webhook_event_to_first_attempt_seconds',
    help: 'Time from a job event to the end of its first delivery attempt',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'webhook_queue_lag_seconds',
    help: 'How long the oldest due delivery has waited past its due time',
    registers: [registry],
    async collect() {
      this.set(await sources.queueLagSeconds());
    },
  });
  new Gauge({
    name: 'webhook_due_deliveries',
    help: 'Deliveries due now, not yet claimed by a sender',
    registers: [registry],
    async collect() {
      this.set(await sources.dueDeliveries());
    },
  });
  new Gauge({
    name: 'webhook_stream_lag_entries',
    help: 'Job events in the stream not yet read by the webhook consumer group',
    registers: [registry],
    async collect() {
      this.set(await sources.streamLag());
    },
  });
  new Gauge({
    name: 'webhook_in_flight_requests',
    help: 'Requests this instance has open to receivers',
    registers: [registry],
    collect() {
      this.set(sources.inFlight());
    },
  });
  return { registry, deliveries, attemptLatency, deadLetters, eventsConsumed, eventToSend };
}

export type WebhookMetrics = ReturnType<typeof createMetrics>;
