// Raised into an SSE handler when its client is gone, as asyncio.CancelledError is in Microdot:
// pending and later send()/sleep() calls reject with it, so `catch` and `finally` run.

export class CancelledError extends Error {
  override name = "CancelledError";
  constructor(message = "the client disconnected") {
    super(message);
  }
}

/** V8's (and JavaScriptCore's) bound on captured stack frames; other engines have none. */
const errors = Error as { stackTraceLimit?: number };

/**
 * A CancelledError for a stream the host ended, without a stack trace: it would only show the
 * host's close handler, and capturing it costs ~3 µs, 10,000 times when a deploy cuts every stream.
 */
export function cancellation(message: string | undefined): CancelledError {
  const limit = errors.stackTraceLimit;
  if (typeof limit !== "number") return new CancelledError(message);
  try {
    errors.stackTraceLimit = 0;
  } catch {
    return new CancelledError(message); // read-only (node --frozen-intrinsics, a hardened realm)
  }
  try {
    return new CancelledError(message);
  } finally {
    errors.stackTraceLimit = limit;
  }
}
