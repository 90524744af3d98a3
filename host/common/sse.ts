// What a handler holds as `sse`: the documented members and nothing else. The stream behind it
// (stream.ts) is the host's; a handler cannot reach its flush, deliver or destroy.
import type { SendOptions } from "../../bindings/index.js";
import type { SseStream } from "./stream.js";

/** The `sse` object a handler receives, from withSse and sseResponse alike. */
export interface Sse {
  /**
   * Sends one event: a string as text, a Uint8Array as UTF-8 text, anything else as JSON.
   * Resolves once the frame is in the stream's bounded buffer; waits while the client lags.
   * A client that falls too far behind (maxBufferedBytes; highWaterMark for sseResponse), or
   * takes no bytes for stallTimeoutMs, is disconnected: this and every waiting send reject
   * with CancelledError. A string second argument is the event name, as in Microdot.
   */
  send(data: unknown, options?: SendOptions | string): Promise<void>;
  /** A comment line: ignored by EventSource, keeps proxies from timing out. */
  comment(text: string): Promise<void>;
  /** Waits ms; rejects with CancelledError at once if the client goes, or if called after the stream ended. */
  sleep(ms: number): Promise<void>;
  /** Where a reconnecting client left off: the Last-Event-ID header, else the `lastEventId` query parameter. */
  readonly lastEventId: string | undefined;
  /**
   * Aborts when the stream ends, as `closed` resolves: with a CancelledError when the client
   * disconnects (or the server closes, or the core fails), with a DOMException named
   * "AbortError" when the handler returns or throws.
   */
  readonly signal: AbortSignal;
  /** Resolves when the stream is over, whoever ended it. */
  readonly closed: Promise<void>;
}

/** Only this module makes handles: a handler's `new sse.constructor(…)` is refused. */
const MAKER = Symbol("SseHandle");

/** The stream behind a handle this host made; undefined for anything else (set in SseHandle's static block). */
export let streamOf: (sse: unknown) => SseStream | undefined;

/** The handle a handler gets for `stream`. */
export function handleOf(stream: SseStream): Sse {
  return new SseHandle(stream, MAKER);
}

class SseHandle implements Sse {
  readonly #stream: SseStream;

  constructor(stream: SseStream, maker: symbol) {
    if (maker !== MAKER) throw new TypeError("sse objects are made by withSse and sseResponse");
    this.#stream = stream;
  }

  // A private field no other object can have: the only way from a handle to its stream, kept
  // in this module (no static member a handler could reach through sse.constructor).
  static {
    streamOf = (sse) => (typeof sse === "object" && sse !== null && #stream in sse ? (sse as SseHandle).#stream : undefined);
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    return this.#stream.send(data, options);
  }

  comment(text: string): Promise<void> {
    return this.#stream.comment(text);
  }

  sleep(ms: number): Promise<void> {
    return this.#stream.sleep(ms);
  }

  get lastEventId(): string | undefined {
    return this.#stream.lastEventId;
  }

  get signal(): AbortSignal {
    return this.#stream.signal;
  }

  get closed(): Promise<void> {
    return this.#stream.closed;
  }
}
