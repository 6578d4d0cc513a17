import { z } from 'zod';

/**
 * The suite's knobs, read once from the environment. The defaults are what `gate release` runs:
 * `CHAOS_SCALE` 0.25 (a quarter of the issue's figures: 500 jobs of worker kills, 2,500 hostile
 * requests...) keeps the level within its budget on the shared 2-core machine;
 * `CHAOS_SCALE=1` runs the issue's full figures.
 */
const schema = z.object({
  CHAOS_SEED: z.coerce.number().int().min(0).default(17),
  CHAOS_SCALE: z.coerce.number().positive().max(10).default(0.25),
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
