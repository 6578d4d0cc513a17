/**
 * Redis keys of webhook delivery. All share the queue namespace's hash tag (`{ns}`), so they live in
 * the queue's cluster slot, every script declares every key it touches, and they go away with the
 * namespace.
 *
 * - `{ns}:events`                 stream   core's job events (read through the consumer group)
 * - `{ns}:webhook:endpoints`      hash     endpoint id -> endpoint JSON (secrets included)
 * - `{ns}:webhook:deliveries`     hash     delivery id (`msg_...`) -> delivery JSON (body, attempts)
 * - `{ns}:webhook:due`            zset     delivery id by the time it may be (re)sent; a claimed
 *                                          delivery is pushed to its lease end, so a crashed sender's
 *                                          delivery becomes due again
 * - `{ns}:webhook:order`          hash     `<endpoint>|<job>` -> JSON list of delivery ids waiting
 *                                          behind the one in `due` (events of one job in order)
 * - `{ns}:webhook:log`            zset     `<endpoint>|<created ms, 15 digits>|<delivery>` at score 0,
 *                                          read by lexicographic range: an endpoint's deliveries newest first
 * - `{ns}:webhook:finished`       zset     finished delivery ids by finish time (retention)
 * - `{ns}:webhook:version`        string   bumped on every endpoint change (senders' cache check)
 * - `{ns}:webhook:customer:<c>`   set      a customer's endpoint ids
 */
export function webhookKeys(namespace: string) {
  const tag = `{${namespace}}`;
  return {
    events: `${tag}:events`,
    endpoints: `${tag}:webhook:endpoints`,
    deliveries: `${tag}:webhook:deliveries`,
    due: `${tag}:webhook:due`,
    order: `${tag}:webhook:order`,
    log: `${tag}:webhook:log`,
    finished: `${tag}:webhook:finished`,
    version: `${tag}:webhook:version`,
    customer: (customerId: string) => `${tag}:webhook:customer:${customerId}`,
  };
}

export type WebhookKeys = ReturnType<typeof webhookKeys>;

/** The fixed key list every script takes, in this order (see `scripts.ts`). */
export function scriptKeys(keys: WebhookKeys): string[] {
  return [
    keys.events,
    keys.endpoints,
    keys.deliveries,
    keys.due,
    keys.order,
    keys.log,
    keys.finished,
    keys.version,
  ];
}

export const CONSUMER_GROUP = 'webhook-service';
