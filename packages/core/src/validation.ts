import { z } from 'zod';
import { ValidationError } from './errors.js';
import type { FailureInput, SubmitInput, WorkerSpec } from './types.js';

function printable(value: string): boolean {
  // Stryker disable next-line EqualityOperator: `i <= length` reads charCodeAt(length), NaN, never < 32 (equivalent)
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) < 32) return false;
  }
  return true;
}

/** Ids and names end up inside index members separated by control characters, so none may hold one. */
const name = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .refine(printable, 'must not contain control characters');

const scalar = z.union([z.string(), z.number().finite(), z.boolean()]);
const capabilityValue = z.union([scalar, z.array(scalar)]);

const requirements = z
  .object({
    hardware: z.record(z.string(), z.number().finite().nonnegative()).optional(),
    models: z.array(name).optional(),
    customer_isolation: z.enum(['strict', 'loose', 'none']).optional(),
    not: z.record(z.string(), capabilityValue).optional(),
  })
  .catchall(capabilityValue);

const submitSchema = z
  .object({
    id: name.optional(),
    service_required: name,
    priority: z
      .number()
      .int('must be an integer')
      .refine(Number.isSafeInteger, 'must be a safe integer (|priority| < 2^53)')
      .default(0),
    payload: z.unknown().optional(),
    customer_id: name.optional(),
    workflow_id: name.optional(),
    step: z.number().int().nonnegative().optional(),
    max_attempts: z.number().int().min(1).max(1_000).optional(),
    requirements: requirements.optional(),
  })
  .strict()
  .superRefine((job, ctx) => {
    if (job.requirements?.customer_isolation === 'strict' && job.customer_id === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['customer_id'],
        message: "is required when requirements.customer_isolation is 'strict'",
      });
    }
    if (job.payload !== undefined) {
      try {
        // Stryker disable next-line StringLiteral: the message is caught right below and never shown (equivalent)
        if (JSON.stringify(job.payload) === undefined) throw new Error('not serializable');
      } catch {
        ctx.addIssue({ code: 'custom', path: ['payload'], message: 'must be JSON-serializable' });
      }
    }
  });

const workerSchema = z
  .object({
    worker_id: name,
    services: z.array(name).min(1, 'must list at least one service'),
    hardware: z.record(z.string(), z.number().finite()).optional(),
    models: z.record(z.string(), z.array(z.string())).optional(),
    customer_access: z
      .object({
        isolation: z.enum(['strict', 'loose', 'none']),
        allowed_customers: z.array(z.string()).optional(),
        denied_customers: z.array(z.string()).optional(),
      })
      .optional(),
    workflow_id: name.optional(),
    capabilities: z.record(z.string(), capabilityValue).optional(),
  })
  .strict();

const failureSchema = z.object({
  retryable: z.boolean(),
  failure_type: z.string().min(1),
  failure_reason: z.string(),
  message: z.string(),
  retry_after_ms: z.number().int().nonnegative().optional(),
});

const progressSchema = z.object({
  percent: z.number().min(0).max(100).optional(),
  message: z.string().max(10_000).optional(),
});

export type ValidSubmit = z.infer<typeof submitSchema>;

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  throw new ValidationError(
    `Invalid ${what}: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`,
    issues,
  );
}

export function validateSubmit(input: SubmitInput, index?: number): ValidSubmit {
  return check(submitSchema, input, index === undefined ? 'job' : `job #${index}`);
}

export function validateWorker(worker: WorkerSpec): WorkerSpec {
  const valid = check(workerSchema, worker, 'worker');
  return { ...valid, services: [...new Set(valid.services)] };
}

export function validateFailure(failure: FailureInput): FailureInput {
  return check(failureSchema, failure, 'failure');
}

export function validateProgress(progress: { percent?: number; message?: string }): {
  percent?: number;
  message?: string;
} {
  return check(progressSchema, progress, 'progress');
}

export function validateLeaseMs(leaseMs: number, field = 'leaseMs'): number {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0 || !Number.isInteger(leaseMs)) {
    throw new ValidationError(`Invalid ${field}: must be a positive integer (got ${leaseMs})`, [
      { path: field, message: 'must be a positive integer' },
    ]);
  }
  return leaseMs;
}

/**
 * A numeric queue option: a finite number (an integer when `integer`) from `min` to `max`. Every
 * one of them ends up in a Lua call, where NaN or infinity would fail it half way.
 */
export function validateNumberOption(
  value: number,
  field: string,
  {
    min,
    max = Number.MAX_SAFE_INTEGER,
    integer = true,
  }: { min: number; max?: number; integer?: boolean },
): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    const what = `must be ${integer ? 'an integer' : 'a finite number'} from ${min} to ${max}`;
    throw new ValidationError(`Invalid ${field}: ${what} (got ${String(value)})`, [
      { path: field, message: what },
    ]);
  }
  return value;
}

export function validateId(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || !printable(value)) {
    throw new ValidationError(
      `Invalid ${field}: must be a non-empty string without control characters`,
      [{ path: field, message: 'must be a non-empty string without control characters' }],
    );
  }
  return value;
}
