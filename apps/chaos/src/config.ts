import { z } from 'zod';

/**
 * The suite's knobs, read once from the environment. The defaults are what `gate release` runs;
 * `CHAOS_SCALE` shrinks every job and request count (e.g. 0.25 while iterating locally).
 */
const schema = z.object({
  CHAOS_SEED: z.coerce.number().int().min(0).default(17),
  CHAOS_SCALE: z.coerce.number().positive().max(10).default(1),
  /** Keeps each scenario's Redis directory and process logs here instead of deleting them. */
  CHAOS_KEEP_DIR: z.string().optional(),
});

const parsed = schema.safeParse(process.env);
if (!parsed.success) {
  throw new Error(
    `Invalid chaos configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
  );
}

export const chaosConfig = {
  seed: parsed.data.CHAOS_SEED,
  scale: parsed.data.CHAOS_SCALE,
  keepDir: parsed.data.CHAOS_KEEP_DIR,
};

/** `n` scaled by CHAOS_SCALE, never below `min`. */
export function scaled(n: number, min = 1): number {
  return Math.max(min, Math.round(n * chaosConfig.scale));
}
