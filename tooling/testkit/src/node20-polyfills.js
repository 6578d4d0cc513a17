// @ts-check
// vitest 5 declares Node 22 and, on Node 20, crashes while printing a failed test's errors
// (`Map.groupBy is not a function`): a red test would read as a reporter crash. Loaded by every
// vitest config of the repo, in the main process, before any reporter runs.
if (!('groupBy' in Map)) {
  Object.defineProperty(Map, 'groupBy', {
    configurable: true,
    writable: true,
    /**
     * @template K, T
     * @param {Iterable<T>} items
     * @param {(item: T, index: number) => K} keyOf
     */
    value(items, keyOf) {
      /** @type {Map<K, T[]>} */
      const groups = new Map();
      let index = 0;
      for (const item of items) {
        const key = keyOf(item, index++);
        const group = groups.get(key);
        if (group) group.push(item);
        else groups.set(key, [item]);
      }
      return groups;
    },
  });
}
if (!('groupBy' in Object)) {
  Object.defineProperty(Object, 'groupBy', {
    configurable: true,
    writable: true,
    /**
     * @template T
     * @param {Iterable<T>} items
     * @param {(item: T, index: number) => PropertyKey} keyOf
     */
    value(items, keyOf) {
      /** @type {Record<PropertyKey, T[]>} */
      const groups = Object.create(null);
      let index = 0;
      for (const item of items) (groups[keyOf(item, index++)] ??= []).push(item);
      return groups;
    },
  });
}
