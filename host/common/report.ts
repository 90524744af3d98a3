// Errors nobody awaits (a handler's, a trap's, an origin function's) go to the app's onError.
// It is called from timers and settled promises, so it may not throw out: what it throws is
// logged instead.

export function report<A extends unknown[]>(onError: (error: unknown, ...context: A) => void, error: unknown, ...context: A): void {
  try {
    onError(error, ...context);
  } catch (secondary) {
    console.error("wasm-sse: onError threw:", secondary);
  }
}

/** The default onError. */
export function logError(error: unknown): void {
  const what = error instanceof WebAssembly.RuntimeError ? "an engine trapped and was replaced; its streams ended" : "an event stream failed";
  console.error(`wasm-sse: ${what}:`, error);
}
