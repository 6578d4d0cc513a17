import {
  checkTarget,
  systemResolver,
  WebhookStore,
  type Resolver,
  type TargetPolicy,
} from '@jobgate/webhook-service';
import type { Redis } from 'ioredis';

/** Webhook registration settings: production refuses http:// and every non-public address. */
export interface WebhookOptions {
  /** Accept `http://` URLs (development only). */
  allowHttp?: boolean;
  /** CIDRs exempt from the address check (tests on loopback). */
  allowCidrs?: string[];
  /** DNS used to check a URL's host; tests inject answers. */
  resolve?: Resolver;
}

/**
 * The API's side of webhooks: `@jobgate/webhook-service`'s store (one record format for the API
 * and the sender) and the registration-time SSRF check with this deployment's policy.
 */
export function webhookRegistry(redis: Redis, namespace: string, options: WebhookOptions = {}) {
  const policy: TargetPolicy = {
    allowHttp: options.allowHttp ?? false,
    allowCidrs: options.allowCidrs ?? [],
  };
  const resolve = options.resolve ?? systemResolver;
  return {
    store: new WebhookStore(redis, namespace),
    policy,
    check: (url: string) => checkTarget(url, policy, resolve),
  };
}

export type WebhookRegistry = ReturnType<typeof webhookRegistry>;
