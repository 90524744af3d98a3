// One event stream: what a handler holds as `sse`. Frames go into the stream's connection in
// the core; a flush (once per event-loop turn) copies them out and writes them in one write.
//
// Rules
// - Bytes towards a client live in three bounded places: the core's outbound space (≤ one
//   connection's outBytes), `queued` (copies taken out of the core plus broadcast frames,
//   never more than maxBufferedBytes with what Node holds) and Node's writable buffer.
// - While Node's writable needs 'drain', nothing more is written; frames wait in the core, and
//   a send that finds the core full waits too.
// - What a stream holds for its client is bounded by maxBufferedBytes: Node's buffer, `queued`,
//   and the sends waiting behind another waiting send (sends nobody awaited: each holds its
//   event, counted by waitingCost). A broadcast frame or such a send that would pass it
//   disconnects the stream as too slow (CancelledError; EventSource reconnects and resumes):
//   a frame cannot wait (it would stall every subscriber), and unawaited sends to a frozen
//   reader would pile up without end (189,000 held 117 MB). An awaited send never counts.
// - The stall limit (slow-clients.ts): while Node's writable needs 'drain', the stream is in the
//   pool's StallWatch; Node's buffer or libuv's queue under it shrinking is progress, and a
//   client that takes nothing for stallTimeoutMs is disconnected, whatever filled its buffers:
//   sends, broadcasts, replays, keep-alives (they wait in the core meanwhile). A response that
//   ended with bytes still in Node's buffer is watched until it closes, so a client that never
//   takes its last bytes does not keep the connection either.
// - A payload is serialised once, at its send() call, as JSON.stringify there would be: a send
//   that must wait keeps the bytes staged then (a HeldEvent), so its toJSON, getters and traps
//   never run twice and later changes to the payload do not reach the client.
// - Order is the order of calls: a broadcast frame first moves the core's pending bytes into
//   `queued`, so it lands after them.
// - After the client goes, every pending and later send()/sleep() rejects with CancelledError
//   and the core slot is free. The same happens when the server closes (after a last event)
//   and when the core instance under the stream traps (after the frames already copied out).
//
// Cost rules (W1-W3 of bench/): a send the core accepts at once allocates nothing here and
// returns one shared resolved promise; the core is asked for pending bytes only when something
// was framed into it since the last look (`framed`); a broadcast run of one turn is one queued
// Segment; the AbortController, `closed` and `responseClosed` exist only once someone asks.
import { ReentrantSendError, type Conn, type Engine, type HeldEvent, type SendOptions } from "../../bindings/index.js";
import type { Batch } from "./broadcast-batch.js";
import { Segment } from "./broadcast-batch.js";
import { CancelledError } from "./cancelled-error.js";
import type { EnginePool, Occupant, Slot } from "./engine-pool.js";
import { scheduleFlush } from "./flush-queue.js";
import { Sleeps } from "./sleep.js";
import { waitingCost, type Progress, type Stallable } from "./slow-clients.js";
import { streamEnded } from "./stream-ended.js";

/** The `sse` object a handler receives. */
export interface Sse {
  /**
   * Sends one event: a string as text, a Uint8Array as UTF-8 text, anything else as JSON.
   * Resolves once the frame is in the stream's bounded buffer; waits while the client lags.
   * A client that falls maxBufferedBytes behind, or takes no bytes for stallTimeoutMs, is
   * disconnected: this and every waiting send reject with CancelledError.
   * A string second argument is the event name, as in Microdot.
   */
  send(data: unknown, options?: SendOptions | string): Promise<void>;
  /** A comment line: ignored by EventSource, keeps proxies from timing out. */
  comment(text: string): Promise<void>;
  /** Waits ms; rejects with CancelledError at once if the client goes. */
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

/** What a stream needs of a response: node:http's, node:http2's compatibility one, Express's. */
export interface StreamResponse {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(error?: Error): unknown;
  readonly writableLength: number;
  on(event: "close" | "drain" | "error", listener: (error?: unknown) => void): unknown;
  once(event: "close", listener: () => void): unknown;
  /** Added by compression(): pushes out what its compressor holds. Node's own responses have none. */
  flush?(): void;
}

/** Told synchronously when a stream ends, whoever ended it: a channel it subscribed to. */
export interface EndListener {
  streamEnded(stream: SseStream): void;
}

interface Waiter {
  /** Bytes framed, 0 while the core is full. */
  frame: () => number;
  /** What it counts towards maxBufferedBytes (0 for the first to wait). */
  cost: number;
  /** A send's event, serialised at its call (a comment has none): released if it is never sent. */
  held: HeldEvent | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

type State = "open" | "ending" | "done";

/** What every send the core accepts at once returns. */
const ACCEPTED = Promise.resolve();

export class SseStream implements Sse, Occupant, Slot, Stallable {
  readonly engine: Engine;
  readonly conn: Conn;
  readonly lastEventId: string | undefined;
  flushScheduled = false;
  private state: State = "open";
  /** Why the stream was cancelled (client gone, dropped, server closing, core trapped); undefined if it was not. */
  private reason: CancelledError | undefined;
  private controller: AbortController | undefined;
  private sleeps: Sleeps | undefined;
  private waiters: Waiter[] | undefined;
  /** The waiters' costs. */
  private waitingBytes = 0;
  private queued: Array<Uint8Array | Segment> | undefined;
  private queuedBytes = 0;
  /** The queue's last entry, while it is a broadcast run that the next frame of its batch may extend. */
  private run: Segment | undefined;
  /** Something was framed into the core connection since its pending bytes were last taken. */
  private framed = false;
  /** Bytes in Node's writable buffer when last read; may be stale high (it drains), never read as a reason to drop without a fresh look. */
  private buffered = 0;
  private needDrain = false;
  private drainListening = false;
  /** Whether this turn's first broadcast already restarted the keep-alive. */
  private touched = false;
  /** The response's 'close' came. */
  private responseOver = false;
  private closedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  /** One listener (the usual case: one channel) needs no array. */
  private endListeners: EndListener | EndListener[] | undefined;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly pool: EnginePool,
    slot: Slot,
    private readonly res: StreamResponse,
    lastEventId: string | undefined,
    readonly maxBufferedBytes: number,
    /** The request, for reports about this stream. */
    readonly request: unknown,
  ) {
    this.engine = slot.engine; // copied, not kept: one object less per stream
    this.conn = slot.conn;
    this.lastEventId = lastEventId;
    // 'close' before end() means the client went away; 'error' likewise (reset, broken pipe).
    // One listener for both: 'error' comes with its error, 'close' with nothing. It is
    // anonymous and inline: tools that keep function names (tsx, esbuild's keepNames) give
    // every named closure a property store of its own, and this one is made per stream.
    onCloseOrError(res, (error?: unknown) => this.responseGone(error === undefined));
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isDone()) this.controller.abort(this.reason ?? streamEnded());
    }
    return this.controller.signal;
  }

  get closed(): Promise<void> {
    if (this.closedPromise === undefined) {
      this.closedPromise = this.isDone() ? ACCEPTED : new Promise((resolve) => (this.resolveClosed = resolve));
    }
    return this.closedPromise;
  }

  /** Resolves when the response is over (sent, or its connection gone); only shutdown asks, so nothing waits for it before. */
  get responseClosed(): Promise<void> {
    return this.responseOver ? ACCEPTED : new Promise((resolve) => this.res.once("close", resolve));
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    if (this.state !== "open") return Promise.reject(new CancelledError("the stream is closed"));
    let held: HeldEvent;
    try {
      const now = this.waiters === undefined || this.waiters.length === 0;
      const framed = this.frameOrHold(data, options, now);
      if (framed === undefined) return ACCEPTED;
      held = framed;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.wait(() => this.sendHeld(held), held.bytes.length, held);
  }

  comment(text: string): Promise<void> {
    if (this.state !== "open") return Promise.reject(new CancelledError("the stream is closed"));
    // From a payload's own code: refused here too, not queued ahead of the event being serialised.
    if (this.slot.engine.serialising) return Promise.reject(new ReentrantSendError("comment"));
    const line = String(text);
    if (this.waiters === undefined || this.waiters.length === 0) {
      try {
        if (this.tryComment(line) > 0) return ACCEPTED;
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.wait(() => this.tryComment(line), line.length);
  }

  sleep(ms: number): Promise<void> {
    if (this.reason !== undefined) return Promise.reject(this.reason);
    return (this.sleeps ??= new Sleeps()).sleep(ms);
  }

  /** Writes what is pending (the flush queue calls this once per turn). */
  flush(): void {
    this.touched = false;
    if (this.state === "done" || this.needDrain) return;
    const chunk = this.take();
    if (this.isDone()) return; // the core trapped
    if (chunk !== undefined) {
      const before = this.res.writableLength;
      if (before + chunk.length > this.maxBufferedBytes) return this.disconnect(tooSlow());
      if (!this.res.write(chunk)) this.awaitDrain();
      // Under compression() (once a proxy stripped no-transform), gzip would hold every event until the end.
      this.res.flush?.();
      this.buffered = this.res.writableLength;
    }
    if (this.waiters !== undefined) this.serveWaiters();
  }

  /** A frame (shared, never modified) for this stream, after what it already framed. */
  deliver(frame: Uint8Array): void {
    if (!this.admit(frame.length)) return;
    this.enqueue(frame);
    this.run = undefined;
    this.queuedBytes += frame.length;
  }

  /** Frame `index` (of `length` bytes) of a channel's batch for this turn. */
  share(batch: Batch, index: number, length: number): void {
    if (!this.admit(length)) return;
    const run = this.run;
    if (run !== undefined && run.batch === batch && run.to === index) run.to++;
    else this.enqueue((this.run = new Segment(batch, index, index + 1)));
    this.queuedBytes += length;
  }

  /** The keep-alive comment the core just framed needs writing. */
  keepAliveDue(): void {
    this.framed = true;
    scheduleFlush(this);
  }

  /** For the stall watch, while nothing is written (Node needs 'drain'): what Node and libuv still hold. */
  advanced(mark: Progress): boolean {
    const a = this.res.writableLength;
    const b = socketQueue(this.res);
    const moved = a !== mark.a || b !== mark.b;
    mark.a = a;
    mark.b = b;
    return moved;
  }

  /** The stall watch saw no bytes taken for a whole window. */
  stalled(): void {
    this.disconnect(new CancelledError("the client took no bytes for stallTimeoutMs"));
  }

  /** Runs `listener` when the stream ends (once, however it ends); a listener added twice is told once. */
  onEnd(listener: EndListener): void {
    const known = this.endListeners;
    if (known === undefined) this.endListeners = listener;
    else if (!Array.isArray(known)) this.endListeners = known === listener ? known : [known, listener];
    else if (!known.includes(listener)) known.push(listener);
  }

  /** The core under this stream trapped: the handler is cancelled, the frames already copied out end the response. */
  engineFailed(): void {
    if (this.state === "done") return;
    const copied = this.queued === undefined ? undefined : this.joinQueued();
    this.cancel(new CancelledError("the event-stream engine failed"));
    this.res.end(copied);
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
    if (this.waiters !== undefined && this.waiters.length > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    if (this.cancelled) return; // the client went while the last sends waited
    const chunk = this.take();
    if (this.cancelled) return; // the core trapped
    this.state = "done";
    this.pool.close(this.slot);
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
    // A client that never takes what Node still holds would keep the connection: watched until the response closes.
    if (this.res.writableLength > 0) this.pool.stalls?.block(this);
    this.ended();
  }

  /** Whether events can still be sent (the handler runs and the client is there). */
  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Whether the stream ended because its client went (or was dropped for lagging, or the server or core ended it). */
  get cancelled(): boolean {
    return this.reason !== undefined;
  }

  /** The stream is its own slot (the engine and connection under it). */
  private get slot(): Slot {
    return this;
  }

  /** Whether the stream is over; a method, so a check after a call that may end it is not narrowed away. */
  private isDone(): boolean {
    return this.state === "done";
  }

  /**
   * A send (of `bytes`) to frame once the core has room. The first to wait is free (an awaited
   * send waits alone); one behind it (nobody awaited it) counts.
   */
  private wait(frame: () => number, bytes: number, held?: HeldEvent): Promise<void> {
    // The payload's own code (or a comment's toString) may have ended the stream on the way.
    if (this.isDone()) {
      if (held !== undefined) this.slot.engine.release(held);
      return Promise.reject(this.reason ?? new CancelledError("the stream is closed"));
    }
    let cost = 0;
    if (this.waiters !== undefined && this.waiters.length > 0) {
      cost = waitingCost(bytes);
      if (!this.holds(cost)) {
        if (held !== undefined) this.slot.engine.release(held);
        return Promise.reject(this.reason);
      }
      this.waitingBytes += cost;
    }
    return new Promise((resolve, reject) => {
      (this.waiters ??= []).push({ frame, cost, held, resolve, reject });
      scheduleFlush(this);
    });
  }

  /**
   * Serialises an event once, at its call, as JSON.stringify there would: framed at once when
   * `now` and the core has room (undefined), else kept as a HeldEvent to frame later. A trap
   * cancels the stream and throws its reason.
   */
  private frameOrHold(data: unknown, options: SendOptions | string | undefined, now: boolean): HeldEvent | undefined {
    const { engine, conn } = this.slot;
    let framed: number | HeldEvent;
    try {
      this.pool.beforeFrame(engine);
      framed = now ? engine.sendOrHold(conn, data, options) : engine.hold(data, options);
    } catch (error) {
      // The payload's own code ended this stream on the way (say, a broadcast that cut it as
      // too slow, which closed its connection): that, not the closed handle, is the outcome.
      if (this.reason !== undefined && !(error instanceof WebAssembly.RuntimeError)) throw this.reason;
      throw this.trapped(error);
    }
    if (typeof framed !== "number") return framed;
    this.framedNow();
    return undefined;
  }

  /** Frames a held event if the core has room now; 0 if it has none. */
  private sendHeld(held: HeldEvent): number {
    const { engine, conn } = this.slot;
    let n: number;
    try {
      this.pool.beforeFrame(engine);
      n = engine.sendHeld(conn, held);
    } catch (error) {
      throw this.trapped(error);
    }
    if (n > 0) this.framedNow();
    return n;
  }

  private tryComment(text: string): number {
    const { engine, conn } = this.slot;
    let n: number;
    try {
      this.pool.beforeFrame(engine);
      n = engine.tryComment(conn, text);
    } catch (error) {
      throw this.trapped(error);
    }
    if (n > 0) this.framedNow();
    return n;
  }

  private framedNow(): void {
    this.framed = true;
    scheduleFlush(this);
  }

  /** A trap fails the core instance (this stream included): what to throw instead is the cancellation. */
  private trapped(error: unknown): unknown {
    if (!(error instanceof WebAssembly.RuntimeError)) return error;
    this.pool.fail(this.slot.engine, error, this); // cancels this stream too
    return this.reason ?? error;
  }

  /** Frames waiting sends in order while the core has room; a refused one rejects alone. */
  private serveWaiters(): void {
    const waiters = this.waiters!;
    while (waiters.length > 0) {
      const waiter = waiters[0]!;
      let n: number;
      try {
        n = waiter.frame();
      } catch (error) {
        if (this.isDone()) return;
        waiters.shift();
        this.waitingBytes -= waiter.cost;
        waiter.reject(error);
        continue;
      }
      if (n === 0) return;
      waiters.shift();
      this.waitingBytes -= waiter.cost;
      waiter.resolve();
    }
    this.onIdle?.();
  }

  /** Whether `length` more bytes may be queued; if not, the stream is dropped. Restarts the keep-alive once a turn. */
  private admit(length: number): boolean {
    if (this.state === "done") return false;
    if (this.framed) this.spill();
    if (this.isDone()) return false; // the core trapped
    if (!this.holds(length)) return false;
    if (!this.touched) {
      this.touched = true;
      this.pool.touch(this.slot, this);
    }
    scheduleFlush(this);
    return true;
  }

  /** Whether the stream may hold `more` bytes for its client; if not, it is disconnected as too slow. */
  private holds(more: number): boolean {
    const after = this.queuedBytes + this.waitingBytes + more;
    // The cached figure only errs high (Node drains in the background): look again before dropping.
    if (this.buffered + after > this.maxBufferedBytes && (this.buffered = this.res.writableLength) + after > this.maxBufferedBytes) {
      this.disconnect(tooSlow());
      return false;
    }
    return true;
  }

  /** Moves the core's pending bytes (copied: the view dies at the next engine call) to `queued`. */
  private spill(): void {
    this.framed = false;
    const { engine, conn } = this.slot;
    try {
      const view = engine.pending(conn);
      if (view.length === 0) return;
      const copy = Buffer.from(view);
      engine.consume(conn, view.length);
      this.enqueue(copy);
      this.run = undefined;
      this.queuedBytes += copy.length;
    } catch (error) {
      // A trap fails the core instance, this stream included: callers find it done.
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.pool.fail(this.slot.engine, error, this);
    }
  }

  private enqueue(part: Uint8Array | Segment): void {
    if (this.queued === undefined) this.queued = [part]; // a literal is sized to fit; `[]` then push() reserves 17 slots
    else this.queued.push(part);
  }

  /** Everything pending, as one chunk. */
  private take(): Uint8Array | undefined {
    if (this.framed) this.spill();
    if (this.queued === undefined) return undefined;
    const chunk = this.joinQueued();
    this.queued = undefined;
    this.run = undefined;
    this.queuedBytes = 0;
    return chunk;
  }

  private joinQueued(): Uint8Array {
    const parts = this.queued!;
    const first = parts[0]!;
    if (parts.length === 1) return first instanceof Segment ? first.bytes() : first;
    return Buffer.concat(
      parts.map((p) => (p instanceof Segment ? p.bytes() : p)),
      this.queuedBytes,
    );
  }

  private awaitDrain(): void {
    this.needDrain = true;
    this.pool.stalls?.block(this);
    if (this.drainListening) return;
    this.drainListening = true;
    this.res.on("drain", () => {
      this.needDrain = false;
      this.pool.stalls?.unblock(this);
      this.buffered = this.res.writableLength;
      // Not a flush now: 'drain' often comes on the tick after a write the socket took at
      // once, before the handler's microtasks frame anything new, so a flush here would send a
      // lone frame. At the end of the turn there is a full buffer's worth.
      scheduleFlush(this);
    });
  }

  private responseGone(closed: boolean): void {
    if (closed) this.responseOver = true;
    this.pool.stalls?.unblock(this);
    this.cancel();
  }

  /** Cuts the client (its handler may have returned already: then only the connection goes). */
  private disconnect(reason: CancelledError): void {
    this.cancel(reason);
    this.res.destroy();
  }

  /** The client is gone (or the server or core ended the stream): free the slot, wake every waiting call with CancelledError. */
  private cancel(error = new CancelledError()): void {
    if (this.state === "done") return;
    this.state = "done";
    this.reason = error;
    this.pool.close(this.slot);
    this.queued = undefined;
    this.run = undefined;
    this.queuedBytes = 0;
    this.waitingBytes = 0;
    if (this.waiters !== undefined) {
      for (const waiter of this.waiters.splice(0)) {
        if (waiter.held !== undefined) this.slot.engine.release(waiter.held);
        waiter.reject(error);
      }
    }
    this.sleeps?.cancel(error);
    this.onIdle?.();
    this.ended();
  }

  private ended(): void {
    this.controller?.abort(this.reason ?? streamEnded());
    this.resolveClosed?.();
    const listeners = this.endListeners;
    this.endListeners = undefined;
    if (listeners === undefined) return;
    if (Array.isArray(listeners)) for (const listener of listeners) listener.streamEnded(this);
    else listeners.streamEnded(this);
  }
}

function tooSlow(): CancelledError {
  return new CancelledError("the client fell more than maxBufferedBytes behind");
}

/**
 * libuv's queue under an HTTP/1 response's socket. Node's buffer shrinks a whole write at a
 * time; this shrinks as the kernel takes each part of one, so a slow reader of a large write
 * shows progress (Node's own socket timeout reads it the same way). HTTP/2 streams share their
 * socket, whose queue would show other streams' progress: theirs is not read.
 */
function socketQueue(res: StreamResponse): number {
  const r = res as { stream?: unknown; socket?: { _handle?: { writeQueueSize?: number } | null } | null };
  return r.stream === undefined ? (r.socket?._handle?.writeQueueSize ?? 0) : 0;
}

function onCloseOrError(res: StreamResponse, listener: (error?: unknown) => void): void {
  res.on("close", listener);
  res.on("error", listener);
}
