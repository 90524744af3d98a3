// Prototype pollution as a merge of parsed JSON leaves it: enumerable keys on Object.prototype.

/** Runs `body` (awaited) while Object.prototype has these enumerable keys; removes them after. */
export async function polluted<T>(keys: Record<string, unknown>, body: () => T | Promise<T>): Promise<T> {
  for (const [k, value] of Object.entries(keys)) Object.defineProperty(Object.prototype, k, { value, enumerable: true, configurable: true, writable: true });
  try {
    return await body();
  } finally {
    for (const k of Object.keys(keys)) delete (Object.prototype as Record<string, unknown>)[k];
  }
}
