// Raised into an SSE handler when its client is gone, as asyncio.CancelledError is in Microdot:
// pending and later send()/sleep() calls reject with it, so `catch` and `finally` run.

export class CancelledError extends Error {
  override name = "CancelledError";
  constructor(message = "the client disconnected") {
    super(message);
  }
}
