/**
 * How every jobgate service reads its environment, in one place: an empty variable is unset (a
 * common `FOO=` in .env files and deployment UIs), every problem is reported at once naming its
 * variable, and a value is never echoed (REDIS_URL and API keys hold secrets).
 *
 * `@jobgate/core/config`; the apps' `config.ts` files hold only their own schemas.
 */
import { z } from 'zod';

/** A configuration that cannot start the service; `problems` names each bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  /**
   * @param problems one line per bad variable, e.g. `PORT must be at most 65535`
   * @param subject what was read, for the first line: `Invalid <subject>:`
   */
  constructor(
    readonly problems: string[],
    subject = 'configuration',
  ) {
    super(`Invalid ${subject}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }

  /** The same list (the worker's logs have called it `issues`). */
  get issues(): string[] {
    return this.problems;
  }
}

/** The environment without unset or empty variables: `FOO=` means "use the default". */
export function presentEnv(env: Record<string, string | undefined>): Record<string, string> {
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') present[name] = value;
  }
  return present;
}

/**
 * One line per zod issue, `<VARIABLE> <message>`. Zod's messages never include the received
 * value unless a schema puts it there; schemas of secrets must not.
 */
export function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(environment)'} ${issue.message}`);
}

/** A variable holding a whole number in `[min, max]`, with a message that gives the range. */
export function wholeNumber(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { message: `must be a whole number between ${min} and ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );
}
