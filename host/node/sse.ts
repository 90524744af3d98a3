// One event stream: what a handler holds as `sse`. Frames go into the stream's connection in
// the core; a flush (once per event-loop turn) copies them out and writes them in one write.
//
// Rules
// - Bytes towards a client live in three bounded places: the core's outbound space (≤ one
//   connection's outBytes), `queued` (copies taken out of the core plus broadcast frames,
//   never more than maxBufferedBytes with what Node holds) and Node's writable buffer.
// - While Node's writable needs 'drain', nothing more is written; frames wait in the core, and
//   a send that finds the core full waits too. A broadcast frame cannot wait (it would stall
//   every subscriber), so a stream whose queue would pass maxBufferedBytes is disconnected.
// - Order is the order of calls: a broadcast frame first moves the core's pending bytes into
//   `queued`, so it lands after them.
// - After the client goes, every pending and later send()/sleep() rejects with CancelledError
//   and the core slot is free. The same happens when the server closes (after a last event)
//   and when the core instance under the stream traps (after the frames already copied out).
import { BufferFullError, type SendOptions } from "../../bindings/index.js";
import { CancelledError } from "./cancelled-error.js";
import type { EnginePool, Occupant, Slot } from "./engine-pool.js";
import { scheduleFlush } from "./flush-queue.js";
import { abortableSleep } from "./sleep.js";

/** The `sse` object a handler receives. */
export interface Sse {
  /**
   * Sends one event: a string as text, a Uint8Array as UTF-8 text, anything else as JSON.
   * Resolves once the frame is in the stream's bounded buffer; waits while the client lags.
   * A string second argument is the event name, as in Microdot.
   */
  send(data: unknown, options?: SendOptions | string): Promise<void>;
  /** A comment line: ignored by EventSource, keeps proxies from timing out. */
  comment(text: string): Promise<void>;
  /** Waits ms; rejects with CancelledError at once if the client goes. */
  sleep(ms: number): Promise<void>;
  /** Where a reconnecting client left off: the Last-Event-ID header, else the `lastEventId` query parameter. */
  readonly lastEventId: string | undefined;
  /** Aborts (reason: a CancelledError) when the client disconnects. */
  readonly signal: AbortSignal;
  /** Resolves when the stream is over, whoever ended it. */
  readonly closed: Promise<void>;
}

/** What a stream needs of a response: node:http's, node:http2's compatibility one, Express's. */
export interface StreamResponse {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(error?: Error): unknown;
  readonly writableLength: number;
  on(event: "close" | "drain" | "error", listener: () => void): unknown;
  once(event: "close", listener: () => void): unknown;
}

interface Waiter {
  frame: () => number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

type State = "open" | "ending" | "done";

export class SseStream implements Sse, Occupant {
  readonly lastEventId: string | undefined;
  readonly closed: Promise<void>;
  /** Resolves when the response is over (sent, or its connection gone). */
  readonly responseClosed: Promise<void>;
  private readonly controller = new AbortController();
  private readonly waiters: Waiter[] = [];
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private needDrain = false;
  private state: State = "open";
  private resolveClosed!: () => void;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly pool: EnginePool,
    private readonly slot: Slot,
    private readonly res: StreamResponse,
    lastEventId: string | undefined,
    readonly maxBufferedBytes: number,
  ) {
    this.lastEventId = lastEventId;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.responseClosed = new Promise((resolve) => res.once("close", resolve));
    res.on("drain", () => {
      this.needDrain = false;
      this.flush();
    });
    // 'close' before end() means the client went away; 'error' likewise (reset, broken pipe).
    res.on("close", () => this.cancel());
    res.on("error", () => this.cancel());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    const { engine, conn } = this.slot;
    return this.enqueue(() => engine.send(conn, data, options));
  }

  comment(text: string): Promise<void> {
    const { engine, conn } = this.slot;
    return this.enqueue(() => engine.comment(conn, String(text)));
  }

  sleep(ms: number): Promise<void> {
    return abortableSleep(ms, this.controller.signal);
  }

  /** Writes what is pending (the flush queue calls this once per turn). */
  flush(): void {
    if (this.state === "done" || this.needDrain) return;
    const chunk = this.take();
    if (this.isDone()) return; // the core trapped
    if (chunk !== undefined) {
      if (this.res.writableLength + chunk.length > this.maxBufferedBytes) return this.disconnect();
      this.needDrain = !this.res.write(chunk);
    }
    this.serveWaiters();
  }

  /** A broadcast frame (shared, never modified) for this stream, after what it already framed. */
  deliver(frame: Uint8Array): void {
    if (this.state === "done") return;
    this.spill();
    if (this.isDone()) return; // the core trapped
    if (this.res.writableLength + this.queuedBytes + frame.length > this.maxBufferedBytes) return this.disconnect();
    this.queued.push(frame);
    this.queuedBytes += frame.length;
    this.pool.touch(this.slot);
    scheduleFlush(this);
  }

  /** The keep-alive comment the core just framed needs writing. */
  keepAliveDue(): void {
    scheduleFlush(this);
  }

  /** The core under this stream trapped: the handler is cancelled, the frames already copied out end the response. */
  engineFailed(): void {
    if (this.state === "done") return;
    const copied = this.queued;
    this.cancel(new CancelledError("the event-stream engine failed"));
    this.res.end(copied.length > 0 ? Buffer.concat(copied) : undefined);
  }

  /**
   * The server is closing: `last` (a frame) goes after everything pending, the handler is
   * cancelled so its cleanup runs, and the response ends. Resolves when the response is over.
   */
  shutdown(last: Uint8Array | undefined): Promise<void> {
    if (this.state !== "done" && last !== undefined) this.deliver(last);
    if (this.state !== "done") {
      const chunk = this.take();
      if (!this.isDone()) {
        this.cancel(new CancelledError("the server is closing"));
        this.res.end(chunk);
      }
    }
    return this.responseClosed;
  }

  /** Ends the connection at once: a shutdown's time is up. */
  destroy(): void {
    this.cancel(new CancelledError("the server is closing"));
    this.res.destroy();
  }

  /** The handler is over: send what was accepted (and what waits), then end the response. */
  async end(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "ending";
    if (this.waiters.length > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    if (this.cancelled) return; // the client went while the last sends waited
    const chunk = this.take();
    if (this.cancelled) return; // the core trapped
    this.state = "done";
    this.pool.close(this.slot);
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
    this.resolveClosed();
  }

  /** Whether events can still be sent (the handler runs and the client is there). */
  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Whether the stream is over; a method, so a check after a call that may end it is not narrowed away. */
  private isDone(): boolean {
    return this.state === "done";
  }

  /** Whether the stream ended because its client went (or was dropped for lagging). */
  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  private enqueue(frame: () => number): Promise<void> {
    if (this.state !== "open") return Promise.reject(new CancelledError("the stream is closed"));
    if (this.waiters.length === 0) {
      try {
        this.frame(frame);
        return Promise.resolve();
      } catch (error) {
        if (!(error instanceof BufferFullError)) return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ frame, resolve, reject });
      scheduleFlush(this);
    });
  }

  private frame(frame: () => number): void {
    try {
      this.pool.beforeFrame(this.slot.engine);
      frame();
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.pool.fail(this.slot.engine, error, this); // cancels this stream too
      throw this.controller.signal.reason;
    }
    scheduleFlush(this);
  }

  /** Frames waiting sends in order while the core has room; a refused one rejects alone. */
  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0]!;
      try {
        this.frame(waiter.frame);
      } catch (error) {
        if (error instanceof BufferFullError || this.state === "done") return;
        this.waiters.shift();
        waiter.reject(error);
        continue;
      }
      this.waiters.shift();
      waiter.resolve();
    }
    this.onIdle?.();
  }

  /** Moves the core's pending bytes (copied: the view dies at the next engine call) to `queued`. */
  private spill(): void {
    const { engine, conn } = this.slot;
    try {
      const view = engine.pending(conn);
      if (view.length === 0) return;
      const copy = Buffer.from(view);
      engine.consume(conn, view.length);
      this.queued.push(copy);
      this.queuedBytes += copy.length;
    } catch (error) {
      // A trap fails the core instance, this stream included: callers find it done.
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.pool.fail(this.slot.engine, error, this);
    }
  }

  /** Everything pending, as one chunk. */
  private take(): Uint8Array | undefined {
    this.spill();
    const parts = this.queued;
    if (parts.length === 0) return undefined;
    const chunk = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.queuedBytes);
    this.queued = [];
    this.queuedBytes = 0;
    return chunk;
  }

  private disconnect(): void {
    this.cancel();
    this.res.destroy();
  }

  /** The client is gone (or the server or core ended the stream): free the slot, wake every waiting call with CancelledError. */
  private cancel(error = new CancelledError()): void {
    if (this.state === "done") return;
    this.state = "done";
    this.pool.close(this.slot);
    this.queued = [];
    this.queuedBytes = 0;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    this.controller.abort(error);
    this.onIdle?.();
    this.resolveClosed();
  }
}
