// node:diagnostics_channel events, so APM tools and loggers can watch streams without wrapping
// the API. A message is built only while someone subscribes.
//
//   wasm-sse:stream:open   { request, lastEventId }                a withSse stream opened
//   wasm-sse:stream:end    { request, cause, error }               it ended: cause is an EndCause,
//                                                                  error the CancelledError its handler saw (none when it returned)
//   wasm-sse:stream:cut    { request, cause, error }               also published when the server cut a
//                                                                  client: cause "buffer_full" or "stalled"
import diagnosticsChannel from "node:diagnostics_channel";
import type { StreamObserver } from "../common/stream.js";
import type { NodeStream } from "./stream.js";

export const OPEN = diagnosticsChannel.channel("wasm-sse:stream:open");
export const END = diagnosticsChannel.channel("wasm-sse:stream:end");
export const CUT = diagnosticsChannel.channel("wasm-sse:stream:cut");

/** A stream opened (called once it is built: its request is set after the base class's constructor). */
export function opened(stream: NodeStream): void {
  if (OPEN.hasSubscribers) OPEN.publish({ request: stream.request, lastEventId: stream.lastEventId });
}

export const diagnostics: StreamObserver = {
  ended(stream, cause, error) {
    const cut = cause === "buffer_full" || cause === "stalled";
    if (!END.hasSubscribers && !(cut && CUT.hasSubscribers)) return;
    const message = { request: (stream as NodeStream).request, cause, error };
    END.publish(message);
    if (cut) CUT.publish(message);
  },
};
