// Why `sse.signal` aborts when a stream ends normally (its handler returned or threw): an
// AbortError, the reason AbortController.abort() gives by default, so work tied to the signal
// (a fetch, a subscription) unwinds as on any abort. A client that went, a server that is
// closing and a core that failed abort it with a CancelledError instead: `reason instanceof
// CancelledError` tells the two apart.

export function streamEnded(): DOMException {
  return new DOMException("the event stream ended", "AbortError");
}
