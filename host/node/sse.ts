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
//   and the core slot is free.
import { BufferFullError, type SendOptions } from "../../bindings/index.js";
import { CancelledError } from "./cancelled-error.js";
import type { EnginePool, Slot } from "./engine-pool.js";
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
  /** The Last-Event-ID request header: where a reconnecting client left off. */
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
}

interface Waiter {
  frame: () => number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

type State = "open" | "ending" | "done";

export class SseStream implements Sse {
  readonly lastEventId: string | undefined;
  readonly closed: Promise<void>;
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
    private readonly maxBufferedBytes: number,
  ) {
    this.lastEventId = lastEventId;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
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

  /** The handler is over: send what was accepted (and what waits), then end the response. */
  async end(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "ending";
    if (this.waiters.length > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    if (this.cancelled) return; // the client went while the last sends waited
    this.state = "done";
    const chunk = this.take();
    this.pool.close(this.slot);
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
    this.resolveClosed();
  }

  /** Whether events can still be sent (the handler runs and the client is there). */
  get isOpen(): boolean {
    return this.state === "open";
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
    this.pool.beforeFrame(this.slot.engine);
    frame();
    scheduleFlush(this);
  }

  /** Frames waiting sends in order while the core has room; a refused one rejects alone. */
  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0]!;
      try {
        this.frame(waiter.frame);
      } catch (error) {
        if (error instanceof BufferFullError) return;
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
    const view = engine.pending(conn);
    if (view.length === 0) return;
    this.queued.push(Buffer.from(view));
    this.queuedBytes += view.length;
    engine.consume(conn, view.length);
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

  /** The client is gone: free the slot, wake every waiting call with CancelledError. */
  private cancel(): void {
    if (this.state === "done") return;
    this.state = "done";
    this.pool.close(this.slot);
    this.queued = [];
    this.queuedBytes = 0;
    const error = new CancelledError();
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    this.controller.abort(error);
    this.onIdle?.();
    this.resolveClosed();
  }
}
