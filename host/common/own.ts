// An options bag is read from the caller's own enumerable properties only, as send options are
// (bindings/send-options.ts) and as JSON.stringify reads a value: copied once (each getter runs
// once) into an object without a prototype, so a key someone put on Object.prototype (prototype
// pollution) reads as absent: a `cors` granting every origin, a `filter` that throws on every
// broadcast, a bound lifted. Node hardens its own options the same way ({ __proto__: null, ...o }).

/** `options`' own enumerable properties, in an object with no prototype (empty for undefined). */
export function own<T extends object>(options: T | undefined): T {
  return Object.assign(Object.create(null) as T, options);
}
