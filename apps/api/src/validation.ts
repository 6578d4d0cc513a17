import { JOB_STATUSES, RESERVED_REQUIREMENT_NAMES } from '@jobgate/core';
import { z } from 'zod';

/** One problem with a request, pointing at the field a client must fix. */
export interface FieldIssue {
  field: string;
  message: string;
}

export class RequestValidationError extends Error {
  override name = 'RequestValidationError';
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

export function issuesOf(error: z.ZodError, prefix = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ field: base ? `${base}.${key}` : key, message: 'is not a known field' });
      }
    } else {
      out.push({ field: base || prefix || '(body)', message: issue.message });
    }
  }
  return out;
}

export function parseOrThrow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  prefix = '',
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RequestValidationError(issuesOf(parsed.error, prefix));
  return parsed.data;
}

/** Nesting depth of a JSON value; deep payloads would blow the stack of whoever serialises them next. */
export function jsonDepth(value: unknown, limit: number): number {
  let depth = 0;
  let level: unknown[] = [value];
  while (level.length > 0) {
    const next: unknown[] = [];
    for (const item of level) {
      if (item !== null && typeof item === 'object') {
        for (const child of Object.values(item))
          if (child !== null && typeof child === 'object') next.push(child);
      }
    }
    depth++;
    if (depth > limit) return depth;
    level = next;
  }
  return depth;
}

export const MAX_PAYLOAD_DEPTH = 32;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const idString = (what: string) =>
  z
    .string({ message: `must be a string (${what})` })
    .regex(ID, { message: `must be 1-128 characters of letters, digits, _ . : - (${what})` });

const nonNegative = (what: string) =>
  z
    .number({ message: `must be a number (${what})` })
    .finite()
    .min(0, { message: `must not be negative (${what})` });

const hardware = z.strictObject({
  gpu_memory_gb: nonNegative('GiB').max(4096).optional(),
  cpu_cores: z
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(0)
    .max(4096)
    .optional(),
  ram_gb: nonNegative('GiB').max(65_536).optional(),
});

const capabilityName = /^[a-z][a-z0-9_]{0,63}$/;
const capabilityValue = z.union([
  z.string().max(256),
  z.number().finite(),
  z.boolean(),
  z.array(z.union([z.string().max(256), z.number().finite(), z.boolean()])).max(64),
]);

const RESERVED_REQUIREMENTS = new Set<string>(RESERVED_REQUIREMENT_NAMES);

const requirements = z
  .object({
    hardware: hardware.optional(),
    models: z
      .array(z.string().min(1).max(256), { message: 'must be an array of model names' })
      .max(64)
      .optional(),
    customer_isolation: z
      .enum(['strict', 'loose', 'none'], { message: 'must be one of strict, loose, none' })
      .optional(),
    not: z
      .record(
        z.string().regex(capabilityName, { message: 'capability names are lower_snake_case' }),
        capabilityValue,
      )
      .optional(),
  })
  .catchall(capabilityValue)
  .superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!RESERVED_REQUIREMENTS.has(key) && !capabilityName.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'custom requirement names are lower_snake_case',
        });
      }
    }
    if (Object.keys(value).length > 64)
      ctx.addIssue({ code: 'custom', message: 'at most 64 requirements' });
  });

/** The body of `POST /api/jobs`: core's submit input minus `customer_id`, which comes from the API key. */
export function submitJobSchema(services: readonly string[]) {
  const known = new Set(services);
  return z.strictObject({
    service_required: z
      .string({ message: 'is required: the service that runs the job' })
      .refine((s) => known.has(s), { message: `must be one of: ${[...known].join(', ')}` }),
    priority: z
      .number({ message: 'must be a number' })
      .int({ message: 'must be a whole number' })
      .min(0, { message: 'must not be negative' })
      .max(1_000_000, { message: 'must be at most 1000000' })
      .default(0),
    payload: z
      .record(z.string(), z.unknown(), { message: 'must be a JSON object' })
      .refine((p) => jsonDepth(p, MAX_PAYLOAD_DEPTH) <= MAX_PAYLOAD_DEPTH, {
        message: `must not nest deeper than ${MAX_PAYLOAD_DEPTH} levels`,
      })
      .default({}),
    workflow_id: idString('workflow id').optional(),
    step: z
      .number({ message: 'must be a number' })
      .int({ message: 'must be a whole number' })
      .min(0)
      .max(100_000)
      .optional(),
    max_attempts: z
      .number({ message: 'must be a number' })
      .int({ message: 'must be a whole number' })
      .min(1, { message: 'must be at least 1' })
      .max(100, { message: 'must be at most 100' })
      .optional(),
    requirements: requirements.optional(),
  });
}

export type SubmitJobBody = z.output<ReturnType<typeof submitJobSchema>>;

export const jobIdParams = z.strictObject({ id: z.string().min(1).max(128) });
export const workflowIdParams = z.strictObject({ id: idString('workflow id') });

export const listJobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES, { message: `must be one of ${JOB_STATUSES.join(', ')}` }).optional(),
  workflow_id: idString('workflow id').optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, { message: 'must be a whole number from 1 to 200' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(1, { message: 'must be at least 1' })
        .max(200, { message: 'must be at most 200' }),
    )
    .default(50),
  cursor: z
    .string()
    .regex(/^\d{16}$/, { message: 'must be a next_cursor value returned by a previous page' })
    .optional(),
});

export const idempotencyKeyHeader = z
  .string()
  .min(1, { message: 'must not be empty' })
  .max(255, { message: 'must be at most 255 characters' })
  .regex(/^[\x21-\x7e]+$/, { message: 'must be printable ASCII without spaces' });
