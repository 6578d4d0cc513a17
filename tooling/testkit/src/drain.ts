export interface DrainOptions<T> {
  /** More than this many items is a bug (usually: as many jobs as the test submitted). */
  max: number;
  /** The identity of an item: one seen twice means something handed it out again. */
  id: (item: T) => string;
  /** What is drained, in words (`'claims of worker w'`), for the error. */
  what: string;
}

export class DrainError extends Error {
  override name = 'DrainError';
}

/**
 * Calls `next` until it returns nothing and returns what it gave, in order. A drain loop written
 * as `for (;;) { const job = await claim(); if (!job) break; }` never ends when a regression
 * leaves a claimed job claimable, spinning a test worker until the run is killed; this one
 * fails at the first repeat, or past `max`, naming the item.
 */
export async function drain<T>(
  next: () => Promise<T | null | undefined>,
  options: DrainOptions<T>,
): Promise<T[]> {
  const { max, id, what } = options;
  const items: T[] = [];
  const seen = new Set<string>();
  for (;;) {
    const item = await next();
    if (item === null || item === undefined) return items;
    const key = id(item);
    if (seen.has(key))
      throw new DrainError(
        `drain: ${what} gave ${key} a second time (item ${items.length + 1}; at most ${max} expected)`,
      );
    if (items.length >= max)
      throw new DrainError(
        `drain: ${what} gave more than the ${max} items expected (next: ${key})`,
      );
    seen.add(key);
    items.push(item);
  }
}
