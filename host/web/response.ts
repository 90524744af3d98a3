// sseResponse(request, handler): the same event stream as withSse, as a fetch-style Response,
// for frameworks built on Web standards (Hono, and any router that returns a Response). The
// handler gets an `sse` object with Microdot's send/sleep; the stream lives as long as it.
//
// Rules
// - A Last-Event-ID the core would refuse (not UTF-8, CR/LF/NUL, over 256 bytes) gets a 400,
//   as withSse's, and uses no slot; the core is given the id it accepts.
// - Frames go into the stream's core connection; once per turn they are copied out and
//   enqueued on the body in one chunk.
// - Backpressure is the body's: send() waits while the reader has not pulled what is queued
//   (desiredSize ≤ 0), so memory per stream is bounded by highWaterMark plus one core space.
//   Keep-alives the core frames meanwhile wait in that space (the core skips them once it is
//   full) until the body pulls.
// - A payload is serialised once, at its send() call: a send that waits keeps those bytes (a
//   HeldEvent), so its toJSON, getters and traps never run twice.
// - Order is the order of calls: a send frames at once only when none waits before it; the
//   others wait in line, each for the one before it, and only the first waits for the reader.
// - Sends that wait behind another waiting send (sends nobody awaits) hold their event: together
//   at most highWaterMark (at least maxEventBytes) of it, counted by waitingCost; one more cuts
//   the stream as too slow. An awaited send waits alone and never counts.
// - The stall limit (slow-clients.ts): while the body holds highWaterMark unread, the stream is
//   in a StallWatch; the reader taking any chunk is progress, and none for stallTimeoutMs cuts
//   the stream. A cut cancels the handler, frees the slot and errors the body, so the server
//   under it drops the connection instead of keeping its unread bytes.
// - When the reader cancels the body or the request's signal aborts, the handler is cancelled:
//   `sse.signal` aborts and pending and later send()/sleep() reject with CancelledError. The
//   same happens, and the body ends, when the core instance under the stream traps.
// - When the handler returns or throws, `sse.signal` aborts too, with an AbortError
//   (stream-ended.ts), so work tied to it is released.
import { InvalidFieldError, ReentrantSendError, type HeldEvent, type SendOptions } from "../../bindings/index.js";
import { CancelledError } from "../node/cancelled-error.js";
import { resolveCors, type CorsOption } from "../node/cors.js";
import { lastEventIdOf } from "../node/last-event-id.js";
import { LongTimer } from "../node/long-timer.js";
import { refusal } from "../node/negotiate.js";
import { checkRange } from "../node/options.js";
import type { Sse } from "../node/sse.js";
import { STALL_TIMEOUT_MS, stallWatch, waitingCost, type Progress, type StallWatch, type Stallable } from "../node/slow-clients.js";
import { streamEnded } from "../node/stream-ended.js";
import { logFault, type FaultReporter, type Occupant, type WebSlot } from "./instance.js";
import { open, release } from "./slots.js";

/** The `sse` object a Response handler receives: withSse's, the same API. */
export type WebSse = Sse;

export interface SseResponseOptions {
  /** A `:` comment after this many ms without an event (default 15000; 0: off). */
  keepAliveMs?: number;
  /** The largest event frame (default 64 KiB). */
  maxEventBytes?: number;
  /** Bytes the body may hold unread before send() waits (default 256 KiB). */
  highWaterMark?: number;
  /** A reader that takes no bytes for this many ms while the body is full is cut (default 60000; 0: off). */
  stallTimeoutMs?: number;
  /**
   * Called once with what the handler threw, and once with the WebAssembly.RuntimeError of a
   * core instance that trapped; neither reaches the client (default: console.error).
   */
  onError?: (error: unknown) => void;
  /** Which other origins' pages may read the stream (CORS), as withSse's `cors` (an origin function's error goes to onError); default none. */
  cors?: CorsOption;
}

export function sseResponse(request: Request, handler: (sse: WebSse) => unknown, options: SseResponseOptions = {}): Response {
  const cors = resolveCors(options.cors, "sseResponse option cors");
  if (cors === undefined) return respond(request, handler, options);
  const header = (name: string) => request.headers.get(name) ?? undefined;
  const failed = (error: unknown) => report(options.onError ?? ((e) => console.error("sseResponse: the cors origin function failed:", e)), error);
  if (request.method === "OPTIONS") {
    const preflight = cors.preflight(header("origin"), header("access-control-request-method"), header("access-control-request-headers"), failed);
    if (preflight !== undefined) return new Response(null, { status: 204, headers: preflight });
  }
  // Every answer carries them, refusals too (see cors.ts).
  const response = respond(request, handler, options);
  for (const [name, value] of Object.entries(cors.headers(header("origin"), failed))) response.headers.set(name, value);
  return response;
}

function respond(request: Request, handler: (sse: WebSse) => unknown, options: SseResponseOptions): Response {
  const refused = refusal(request.method, request.headers.get("accept") ?? undefined);
  if (refused !== undefined) return new Response(refused.message, { status: refused.status, headers: refused.headers });
  const resumed = lastEventIdOf(request.headers.get("last-event-id") ?? undefined, request.url);
  if ("refused" in resumed) return text(400, `Last-Event-ID refused: ${resumed.refused}\n`);
  const headers = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no" };
  if (request.method === "HEAD") return new Response(null, { headers });
  const onError = options.onError ?? ((error) => console.error("sseResponse handler failed:", error));
  const reportFault: FaultReporter = (error) => report(options.onError ?? logFault, error);
  const config = { maxEventBytes: options.maxEventBytes ?? 64 * 1024, keepAliveMs: options.keepAliveMs ?? 15_000 };
  checkRange("sseResponse option keepAliveMs", config.keepAliveMs, 0, Number.MAX_SAFE_INTEGER, false);
  checkRange("sseResponse option maxEventBytes", config.maxEventBytes, 16, 0x4000_0000, true);
  checkRange("sseResponse option highWaterMark", options.highWaterMark ?? 0, 0, Number.MAX_SAFE_INTEGER, true);
  checkRange("sseResponse option stallTimeoutMs", options.stallTimeoutMs ?? 0, 0, Number.MAX_SAFE_INTEGER, false);
  let stream: WebStream | undefined;
  try {
    stream = open(config, resumed.id, (slot) => new WebStream(slot, resumed.id, options, reportFault), reportFault);
  } catch (error) {
    if (!(error instanceof InvalidFieldError)) throw error;
    return text(400, `Last-Event-ID refused: ${error.message}\n`);
  }
  // The instance trapped while opening: it is gone, the next request gets a fresh one.
  if (stream === undefined) return text(503, "the event stream could not be opened; retry\n", { "Retry-After": "1" });
  const opened = stream;
  // The client may be gone already: an aborted signal fires no more 'abort'.
  if (request.signal?.aborted) opened.cancel();
  else request.signal?.addEventListener("abort", () => opened.cancel(), { once: true });
  void opened.run(handler, onError);
  return new Response(opened.body, { headers });
}

/** What every send framed at once returns. */
const ACCEPTED = Promise.resolve();
const ignore = (): void => {};

class WebStream implements WebSse, Occupant, Stallable {
  readonly body: ReadableStream<Uint8Array>;
  readonly closed: Promise<void>;
  private readonly controller = new AbortController();
  private body$!: ReadableStreamDefaultController<Uint8Array>;
  private resolveClosed!: () => void;
  /** Sends and comments waiting for room or being framed, in call order. */
  private line = 0;
  /** The last of them: each waits for the one before it, so they frame in call order. */
  private tail: Promise<void> = Promise.resolve();
  /** Wakes the first in line, which waits for the reader to pull. */
  private room: (() => void) | undefined;
  /** The costs of the sends waiting behind another, and their bound. */
  private waitingBytes = 0;
  private readonly maxWaitingBytes: number;
  private readonly stalls: StallWatch | undefined;
  /** Bytes ever enqueued on the body: with its desiredSize, what the reader has taken. */
  private enqueued = 0;
  private flushing = false;
  private done = false;
  /** The reader cancelled the body: it is over, and closing it again would throw. */
  private bodyCancelled = false;

  constructor(
    private readonly slot: WebSlot,
    readonly lastEventId: string | undefined,
    options: SseResponseOptions,
    readonly reportFault: FaultReporter,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const highWaterMark = options.highWaterMark ?? 256 * 1024;
    this.maxWaitingBytes = Math.max(highWaterMark, slot.instance.config.maxEventBytes);
    this.stalls = stallWatch(options.stallTimeoutMs ?? STALL_TIMEOUT_MS);
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.body$ = controller),
        pull: () => {
          this.stalls?.unblock(this);
          this.flush(); // keep-alives the core framed while the body was full
          this.wake();
        },
        cancel: () => {
          this.bodyCancelled = true;
          this.cancel();
        },
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    const { instance, conn } = this.slot;
    const engine = instance.engine;
    // Serialised once, at this call, as JSON.stringify here would be: a send that cannot be
    // framed now keeps the bytes staged then.
    let held: HeldEvent | undefined;
    if (!this.done && !this.framesNow()) {
      try {
        held = instance.call(this.reportFault, () => engine.hold(data, options));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const write = (): number => {
      if (held !== undefined) return engine.sendHeld(conn, held);
      const framed = engine.sendOrHold(conn, data, options);
      if (typeof framed === "number") return framed;
      held = framed;
      return 0;
    };
    return this.frame(write, () => held?.bytes.length ?? 0, () => held !== undefined && engine.release(held));
  }

  comment(text: string): Promise<void> {
    const { instance, conn } = this.slot;
    // From a payload's own code: refused here too, not queued ahead of the event being serialised.
    if (instance.engine.serialising) return Promise.reject(new ReentrantSendError("comment"));
    const line = String(text);
    return this.frame(() => instance.engine.tryComment(conn, line), () => line.length);
  }

  sleep(ms: number): Promise<void> {
    const signal = this.controller.signal;
    // Only a cancellation cuts a sleep short, as in withSse; a normal end (an AbortError) lets it run out.
    if (signal.reason instanceof CancelledError) return Promise.reject(signal.reason);
    if (!(ms >= 0)) return Promise.reject(new RangeError(`sleep(ms) needs a non-negative number, got ${String(ms)}`));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!(signal.reason instanceof CancelledError)) return;
        timer.clear();
        reject(signal.reason);
      };
      const timer = new LongTimer(ms, () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async run(handler: (sse: WebSse) => unknown, onError: (error: unknown) => void): Promise<void> {
    try {
      await handler(this);
    } catch (error) {
      if (!(error instanceof CancelledError && this.controller.signal.aborted)) report(onError, error);
    }
    if (this.done) return;
    this.flush();
    if (this.done) return; // the core trapped
    this.end();
    release(this.slot);
    this.body$.close();
  }

  /** The reader went away (or the request was aborted): cancel the handler, free the slot, end the body. */
  cancel(): void {
    if (this.done) return;
    this.end(new CancelledError());
    release(this.slot);
    if (!this.bodyCancelled) this.body$.close();
  }

  keepAliveDue(): void {
    if (this.wants()) this.flush();
  }

  engineFailed(): void {
    if (this.done) return;
    this.end(new CancelledError("the core instance under the stream failed"));
    this.body$.close(); // what was already enqueued still reaches the client
  }

  /** For the stall watch, while the body is full: bytes the reader has taken (nothing is enqueued meanwhile). */
  advanced(mark: Progress): boolean {
    const taken = this.enqueued + (this.body$.desiredSize ?? 0);
    const moved = taken !== mark.a;
    mark.a = taken;
    return moved;
  }

  /** The stall watch saw no bytes taken for a whole window. */
  stalled(): void {
    this.cut(new CancelledError("the client took no bytes for stallTimeoutMs"));
  }

  /**
   * Frames in call order once there is room (the body pulled, the core drained); rejects once
   * cancelled. `bytes`: what the send holds while it waits; `done`: runs however it ends (a
   * held event that was never sent is released).
   */
  private frame(write: () => number, bytes: () => number, done?: () => void): Promise<void> {
    if (!this.done && this.framesNow()) {
      // Nothing waits before it and the body has room: framed now, no promise made.
      let framed: number | undefined;
      try {
        framed = this.slot.instance.frame(this, write);
      } catch (error) {
        done?.();
        return Promise.reject(error);
      }
      if (framed !== undefined && framed > 0) {
        done?.();
        this.scheduleFlush();
        return ACCEPTED;
      }
    }
    // The first to wait is free (an awaited send waits alone); one behind it (nobody awaited it) counts.
    let cost = 0;
    if (this.line > 0) {
      cost = waitingCost(bytes());
      this.waitingBytes += cost;
      if (this.waitingBytes > this.maxWaitingBytes) this.cut(new CancelledError("the client fell more than highWaterMark behind"));
    }
    this.line++;
    const turn = this.tail.then(() => this.frameInTurn(write));
    this.tail = turn.then(ignore, ignore);
    return turn.finally(() => {
      this.line--;
      this.waitingBytes -= cost;
      done?.();
    });
  }

  /** The first in line: frames once the body wants bytes and the core has room. */
  private async frameInTurn(write: () => number): Promise<void> {
    for (;;) {
      if (this.done) throw new CancelledError("the stream is closed");
      if (this.wants()) {
        const framed = this.slot.instance.frame(this, write);
        if (framed === undefined) throw new CancelledError("the core instance under the stream failed");
        if (framed > 0) break;
        this.flush(); // the core's space is full: move it to the body, then frame again
        continue;
      }
      await new Promise<void>((resolve) => (this.room = resolve));
    }
    this.scheduleFlush();
  }

  /** The client is too slow: cancel the handler, free the slot, and error the body so the server drops the connection. */
  private cut(reason: CancelledError): void {
    if (this.done) return;
    this.end(reason);
    release(this.slot);
    if (!this.bodyCancelled) this.body$.error(reason);
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      this.flush();
    });
  }

  /** Everything the core framed, copied out as one chunk onto the body. */
  private flush(): void {
    if (this.done) return;
    const { instance, conn } = this.slot;
    const bytes = instance.call(this.reportFault, () => instance.engine.drain(conn));
    if (bytes === undefined || bytes.length === 0) return;
    this.body$.enqueue(bytes);
    this.enqueued += bytes.length;
    if (!this.wants()) this.stalls?.block(this);
  }

  /** Whether a send made now is framed at once: none waits before it and the body has room. */
  private framesNow(): boolean {
    return this.line === 0 && this.wants();
  }

  /** Whether the body has room: the reader pulled what was queued. */
  private wants(): boolean {
    return (this.body$.desiredSize ?? 0) > 0;
  }

  private wake(): void {
    const room = this.room;
    this.room = undefined;
    room?.();
  }

  /** No more calls into the slot: the signal aborts, waiting sends wake to reject, and `closed` resolves. */
  private end(reason?: CancelledError): void {
    this.done = true;
    this.stalls?.unblock(this);
    this.controller.abort(reason ?? streamEnded());
    this.wake();
    this.resolveClosed();
  }
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message, { status, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
}

/** onError, kept from throwing out of a timer or a settled handler. */
function report(onError: (error: unknown) => void, error: unknown): void {
  try {
    onError(error);
  } catch (secondary) {
    console.error("sseResponse onError failed:", secondary);
  }
}
