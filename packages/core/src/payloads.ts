import { z } from 'zod';

/**
 * Payload schemas of the built-in connectors. The worker parses each job's payload with its
 * connector's schema; the API checks a submitted payload with the same schema, so a payload the
 * worker would reject as `invalid_payload` is a 400 at submit instead of a failed job later.
 * Unknown fields pass (`loose`): connectors read what they know and forward the rest.
 */

/**
 * What a simulated job does: how long it runs, how many progress steps it reports, and an
 * injected failure (optionally only on some attempts, to exercise retries).
 */
export const simulationPayloadSchema = z
  .object({
    duration_ms: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600_000)
      .default(0),
    steps: z.number().int().min(0).max(10_000).default(0),
    result: z.unknown().optional(),
    fail: z
      .object({
        message: z.string().min(1),
        http_status: z.number().int().min(100).max(599).optional(),
        code: z.string().optional(),
        response: z.unknown().optional(),
        headers: z.record(z.string(), z.string()).optional(),
        timeout: z.boolean().optional(),
        /** Fail only on these attempts (1-based); default every attempt. */
        on_attempts: z.array(z.number().int().positive()).optional(),
        /** Fail after this many progress steps (default: before the first). */
        after_step: z.number().int().min(0).optional(),
      })
      .optional(),
  })
  .loose();

export type SimulationPayload = z.infer<typeof simulationPayloadSchema>;

/**
 * `operation` picks the endpoint: `chat` (`/chat/completions`), `images` (`/images/generations`),
 * `responses` (`/responses`; with `background: true` it is polled until it finishes, which is how
 * an asynchronous refusal such as `moderation_blocked` arrives: HTTP 200 with the failure inside).
 */
export const openaiPayloadSchema = z
  .object({
    operation: z.enum(['chat', 'images', 'responses']).default('chat'),
    model: z.string().min(1),
    messages: z.array(z.unknown()).optional(),
    prompt: z.string().optional(),
    input: z.unknown().optional(),
    background: z.boolean().optional(),
    /** Extra request fields passed through (temperature, size, n, ...). */
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export const comfyPayloadSchema = z
  .object({
    /** The API-format workflow graph (what ComfyUI's "Save (API)" exports). */
    workflow: z.record(z.string(), z.unknown()),
  })
  .loose();

/** The built-in connectors' payload schemas, by the service name they register by default. */
export const CONNECTOR_PAYLOAD_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  simulation: simulationPayloadSchema,
  openai: openaiPayloadSchema,
  comfyui: comfyPayloadSchema,
};

/** The payload schema of a service, or undefined for a service without a known one (any object). */
export function payloadSchemaFor(service: string): z.ZodType | undefined {
  return Object.hasOwn(CONNECTOR_PAYLOAD_SCHEMAS, service)
    ? CONNECTOR_PAYLOAD_SCHEMAS[service]
    : undefined;
}
