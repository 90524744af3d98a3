// sseResponse(request, handler): the same event stream as withSse, as a fetch-style Response,
// for frameworks built on Web standards (Hono, and any router that returns a Response). The
// handler gets an `sse` object with Microdot's send/sleep; the stream lives as long as it.
//
// Rules
// - Frames go into the stream's core connection; once per turn they are copied out and
//   enqueued on the body in one chunk.
// - Backpressure is the body's: send() waits while the reader has not pulled what is queued
//   (desiredSize ≤ 0), so memory per stream is bounded by highWaterMark plus one core space.
// - When the reader cancels the body or the request's signal aborts, the handler is cancelled:
//   `sse.signal` aborts and pending and later send()/sleep() reject with CancelledError.
import { CancelledError } from "../node/cancelled-error.js";
import type { SendOptions } from "../../bindings/index.js";
import { refusal } from "../node/negotiate.js";
import type { Sse } from "../node/sse.js";
import { acquire, release, type WebSlot } from "./slots.js";

/** The `sse` object a Response handler receives: withSse's, the same API. */
export type WebSse = Sse;

export interface SseResponseOptions {
  /** A `:` comment after this many ms without an event (default 15000; 0: off). */
  keepAliveMs?: number;
  /** The largest event frame (default 64 KiB). */
  maxEventBytes?: number;
  /** Bytes the body may hold unread before send() waits (default 256 KiB). */
  highWaterMark?: number;
  /** Called once with what the handler threw; it never reaches the client (default: console.error). */
  onError?: (error: unknown) => void;
}

const encoder = new TextEncoder();

export function sseResponse(request: Request, handler: (sse: WebSse) => unknown, options: SseResponseOptions = {}): Response {
  const refused = refusal(request.method, request.headers.get("accept") ?? undefined);
  if (refused !== undefined) return new Response(refused.message, { status: refused.status, headers: refused.headers });
  const headers = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no" };
  if (request.method === "HEAD") return new Response(null, { headers });
  const lastEventId = request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("lastEventId") ?? undefined;
  const stream = new WebStream(lastEventId, options);
  request.signal?.addEventListener("abort", () => stream.cancel(), { once: true });
  void stream.run(handler, options.onError ?? ((error) => console.error("sseResponse handler failed:", error)));
  return new Response(stream.body, { headers });
}

class WebStream implements WebSse {
  readonly body: ReadableStream<Uint8Array>;
  readonly closed: Promise<void>;
  private readonly slot: WebSlot;
  private readonly controller = new AbortController();
  private body$!: ReadableStreamDefaultController<Uint8Array>;
  private resolveClosed!: () => void;
  private waiting: (() => void)[] = [];
  private flushing = false;
  private keepAlive: ReturnType<typeof setTimeout> | undefined;
  private done = false;

  constructor(readonly lastEventId: string | undefined, private readonly options: SseResponseOptions) {
    this.slot = acquire(options.maxEventBytes ?? 64 * 1024);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.body$ = controller),
        pull: () => this.wake(),
        cancel: () => this.cancel(),
      },
      { highWaterMark: options.highWaterMark ?? 256 * 1024, size: (chunk) => chunk.byteLength },
    );
    this.armKeepAlive();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    const { engine, conn } = this.slot;
    return this.frame(() => engine.trySend(conn, data, options));
  }

  comment(text: string): Promise<void> {
    const { engine, conn } = this.slot;
    return this.frame(() => engine.tryComment(conn, String(text)));
  }

  sleep(ms: number): Promise<void> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!(ms >= 0)) return Promise.reject(new RangeError(`sleep(ms) needs a non-negative number, got ${String(ms)}`));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async run(handler: (sse: WebSse) => unknown, onError: (error: unknown) => void): Promise<void> {
    try {
      await handler(this);
    } catch (error) {
      if (!(error instanceof CancelledError && this.controller.signal.aborted)) onError(error);
    }
    if (this.done) return;
    this.flush();
    this.finish();
    this.body$.close();
  }

  /** The reader went away (or the request was aborted): cancel the handler, free the slot. */
  cancel(): void {
    if (this.done) return;
    this.finish();
    this.controller.abort(new CancelledError());
    for (const wake of this.waiting.splice(0)) wake();
  }

  /** Frames once there is room (the body pulled, the core drained); rejects once cancelled. */
  private async frame(write: () => number): Promise<void> {
    for (;;) {
      if (this.done) throw new CancelledError("the stream is closed");
      if ((this.body$.desiredSize ?? 1) > 0) {
        if (write() > 0) break;
        this.flush(); // the core's space is full: move it to the body, then frame again
        continue;
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.scheduleFlush();
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
    const bytes = this.slot.engine.drain(this.slot.conn);
    if (bytes.length === 0) return;
    this.body$.enqueue(bytes);
    this.armKeepAlive();
  }

  private wake(): void {
    for (const wake of this.waiting.splice(0)) wake();
  }

  private armKeepAlive(): void {
    const ms = this.options.keepAliveMs ?? 15_000;
    if (ms === 0) return;
    clearTimeout(this.keepAlive);
    this.keepAlive = setTimeout(() => {
      if (this.done || (this.body$.desiredSize ?? 0) <= 0) return this.armKeepAlive();
      this.body$.enqueue(encoder.encode(":\n"));
      this.armKeepAlive();
    }, ms);
    this.keepAlive.unref?.();
  }

  private finish(): void {
    this.done = true;
    clearTimeout(this.keepAlive);
    release(this.slot);
    this.resolveClosed();
  }
}
