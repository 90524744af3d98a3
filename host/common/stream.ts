// One event stream, whatever carries it: a Node response (host/node) or a Response body
// (host/web) is a subclass that supplies the output (write, end, cut, what it still holds).
// Frames go into the stream's connection in the core; a flush (once per event-loop turn) copies
// them out and writes them in one chunk.
//
// Rules
// - Bytes towards a client live in three bounded places: the core's outbound space (a
//   connection's own 8 KiB, or its engine's wide region for one larger frame), `queued` (copies
//   taken out of the core plus broadcast frames) and the output.
// - The stream's own frames copied out of the core (`spilled`: a frame in the wide region at
//   once, so the region is free for the engine's next stream; the connection's space when a
//   send finds it full) stay under two batches (a batch is the largest frame) until a flush
//   writes them: a send frames only while they are under one, so at most one frame passes it.
//   They are what the core once held, so they never count against maxBufferedBytes;
//   broadcast frames do.
// - While the output is full (its write said so), nothing more is written; frames wait in the
//   core and `queued`, and a send that finds no room waits too, until the output has room again.
//   What the output holds then counts towards the batch of the stream's own bytes (ownHeld).
// - What a stream holds for its client is bounded by maxBufferedBytes: the output, `queued`,
//   and the sends waiting behind another waiting send (sends nobody awaited: each holds its
//   event, counted by waitingCost). A broadcast frame or such a send that would pass it
//   disconnects the stream as too slow (CancelledError; EventSource reconnects and resumes):
//   a frame cannot wait (it would stall every subscriber), and unawaited sends to a frozen
//   reader would pile up without end (189,000 held 117 MB). An awaited send never counts.
// - The stall limit (slow-clients.ts): while the output is full, the stream is in a StallWatch;
//   the client taking any bytes is progress, and none for stallTimeoutMs cuts the stream,
//   whatever filled the output: sends, broadcasts, replays, keep-alives (they wait in the core
//   meanwhile).
// - A payload is serialised once, at its send() call, as JSON.stringify there would be: a send
//   that must wait keeps the bytes staged then (a HeldEvent), so its toJSON, getters and traps
//   never run twice and later changes to the payload do not reach the client.
// - Order is the order of calls: a send frames at once only when none waits before it; a
//   broadcast frame first moves the core's pending bytes into `queued`, so it lands after them.
// - After the client goes, every pending and later send()/sleep() rejects with CancelledError
//   and the core slot is free. The same happens when the server closes (after a last event)
//   and when the engine under the stream traps (after the frames already copied out).
// - The stream's life: "open" (sends accepted) → "ending" (the handler returned; what waits
//   is still framed) → "done"; or straight to "done" when cancelled, with `reason` saying why.
//
// Cost rules (W1-W3 of bench/): a send the core accepts at once allocates nothing here and
// returns the stream's one resolved promise; the core is asked for pending bytes only when
// something was framed into it since the last look (`framed`); a broadcast run of one turn is
// one queued Segment; the AbortController and `closed` exist only once someone asks.
import { ReentrantSendError, type Conn, type Engine, type HeldEvent, type SendOptions } from "../../bindings/index.js";
import { Segment, type Batch } from "./broadcast-batch.js";
import { concat } from "./bytes.js";
import { cancellation, CancelledError } from "./cancelled-error.js";
import type { EnginePool, Occupant, Slot } from "./engine-pool.js";
import { scheduleFlush } from "./flush-queue.js";
import { Sleeps } from "./sleep.js";
import { waitingCost, type Progress, type StallWatch, type Stallable } from "./slow-clients.js";
import { streamEnded } from "./stream-ended.js";
import type { EndCause, StreamCounters } from "./stream-stats.js";

/** What the streams of one listener (or one sseResponse call) share. */
export interface StreamPolicy {
  /** The bound on what a stream holds for a lagging client, */
  readonly maxBufferedBytes: number;
  /** and the option it comes from, named when a client is cut for passing it. */
  readonly boundName: string;
  /** The stall limit's watch; none when it is off. */
  readonly stalls: StallWatch | undefined;
  /** A core trap this stream met, or one that ended it: told once per failed engine. */
  fault(error: WebAssembly.RuntimeError, stream: SseStream): void;
  /** What these streams did, for stats(). */
  readonly counters: StreamCounters;
  /** Told as a stream ends (diagnostics_channel on Node); none by default. */
  readonly observer?: StreamObserver;
}

export interface StreamObserver {
  ended(stream: SseStream, cause: EndCause, reason: CancelledError | undefined): void;
}

/** The message a stream's CancelledError carries for each way the host ends it. */
const ENDED_BY: Partial<Record<EndCause, string>> = {
  server_closing: "the server is closing",
  broker_unavailable: "the channel's Redis is unreachable",
  core_trap: "the event-stream engine failed",
  stalled: "the client took no bytes for stallTimeoutMs",
};

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



export abstract class SseStream implements Occupant, Slot, Stallable {
  readonly engine: Engine;
  readonly conn: Conn;
  readonly lastEventId: string | undefined;
  flushScheduled = false;
  private state: State = "open";
  /** Why the stream was cancelled (client gone, dropped, server closing, core trapped); undefined if it was not. */
  private reason: CancelledError | undefined;
  private cause: EndCause = "returned";
  private controller: AbortController | undefined;
  private sleeps: Sleeps | undefined;
  private waiters: Waiter[] | undefined;
  /** The waiters' costs. */
  private waitingBytes = 0;
  private queued: Array<Uint8Array | Segment> | undefined;
  private queuedBytes = 0;
  /**
   * Of `queuedBytes`, this stream's own frames copied out of the core (sends, comments,
   * keep-alives): they stand for the space a connection once had in the core, so like the
   * core's bytes they never count against maxBufferedBytes; one batch of them at most.
   */
  private spilled = 0;
  /** `queued` holds a frame shared with other streams (a broadcast, a channel's retry): not this stream's to hand over. */
  private queuedShared = false;
  /** The queue's last entry, while it is a broadcast run that the next frame of its batch may extend. */
  private run: Segment | undefined;
  /** Something was framed into the core connection since its pending bytes were last taken. */
  private framed = false;
  /** What the output held when last read; may be stale high (it drains), never read as a reason to drop without a fresh look. */
  private buffered = 0;
  private full = false;
  /** Whether this turn's first broadcast already restarted the keep-alive. */
  private touched = false;
  private closedPromise: Promise<void> | undefined;
  private acceptedPromise: Promise<void> | undefined;
  private resolveClosed: (() => void) | undefined;
  /** One listener (the usual case: one channel) needs no array. */
  private endListeners: EndListener | EndListener[] | undefined;
  private onIdle: (() => void) | undefined;

  constructor(
    protected readonly pool: EnginePool,
    slot: Slot,
    lastEventId: string | undefined,
    protected readonly policy: StreamPolicy,
  ) {
    this.engine = slot.engine; // copied, not kept: one object less per stream
    this.conn = slot.conn;
    this.lastEventId = lastEventId;
    policy.counters.opened++;
  }

  /**
   * Whether the output gives the chunks it is written to code that may change or transfer them
   * (a Response body's reader): then a frame shared with other streams is copied first.
   */
  protected get handsOutChunks(): boolean {
    return false;
  }
  /** Hands a chunk to the output; false once it holds enough (then call `roomAgain` when it has room). */
  protected abstract write(chunk: Uint8Array): boolean;
  /** Bytes the output holds that its client has not taken. */
  protected abstract outputHeld(): number;
  /** Ends the response after `chunk`. */
  protected abstract finish(chunk: Uint8Array | undefined): void;
  /** Drops the connection (a client too slow, stalled, or a server out of time). */
  protected abstract drop(reason: CancelledError): void;
  /** The output is full: have it call roomAgain() once it has room. */
  protected abstract watchRoom(): void;
  /** For the stall watch: reads what the output shows of its client's progress into `mark`; whether it moved. */
  abstract advanced(mark: Progress): boolean;

  get maxBufferedBytes(): number {
    return this.policy.maxBufferedBytes;
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
      this.closedPromise = this.isDone() ? Promise.resolve() : new Promise((resolve) => (this.resolveClosed = resolve));
    }
    return this.closedPromise;
  }

  send(data: unknown, options?: SendOptions | string): Promise<void> {
    if (this.state !== "open") return this.refused();
    let held: HeldEvent;
    const now = this.mayFrameNow();
    try {
      const framed = this.frameOrHold(data, options, now);
      if (framed === undefined) return this.accepted();
      held = framed;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.sendLater(held, now);
  }

  /** A send the core had no room for: framed after copying the core's bytes out if it may go now, else it waits. (Apart from send(), which runs per event and stays small enough to inline.) */
  private sendLater(held: HeldEvent, now: boolean): Promise<void> {
    try {
      if (now && this.makeRoom() && this.sendHeld(held) > 0) return this.accepted();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.wait(() => this.sendHeld(held), held.bytes.length, held);
  }

  comment(text: string): Promise<void> {
    if (this.state !== "open") return this.refused();
    // From a payload's own code: refused here too, not queued ahead of the event being serialised.
    if (this.engine.serialising) return Promise.reject(new ReentrantSendError("comment"));
    const line = String(text);
    if (this.mayFrameNow()) {
      try {
        if (this.tryComment(line) > 0 || (this.makeRoom() && this.tryComment(line) > 0)) return this.accepted();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.wait(() => this.tryComment(line), line.length);
  }

  /**
   * A send or comment after the end: the stream's own CancelledError when it was cancelled
   * (one error, not one with a stack trace per call: a handler's unawaited sends to a client
   * just cut can number hundreds of thousands), else a new one.
   */
  private refused(): Promise<void> {
    return Promise.reject(this.reason ?? new CancelledError("the stream is closed"));
  }

  /**
   * Waits ms. After the end, as send() does, it rejects at once: a detached loop of sleeps and
   * sends (its sends' rejections caught) would otherwise run on after its stream for good. A
   * sleep pending when the handler returns still resolves (a Promise.race's loser must not
   * become an unhandled rejection); a cancellation rejects it.
   */
  sleep(ms: number): Promise<void> {
    if (this.state !== "open") return this.refused();
    return (this.sleeps ??= new Sleeps()).sleep(ms);
  }

  /** Writes what is pending (the flush queue calls this once per turn). */
  flush(): void {
    this.touched = false;
    if (this.state === "done" || this.full) return;
    const chunk = this.take();
    if (this.isDone()) return; // the core trapped
    if (chunk !== undefined) {
      this.count(chunk);
      // Not bounded here: what `queued` holds was admitted against the bound (holds()), and the
      // core's bytes are awaited sends, which never count; the output is written only while it
      // has room.
      if (!this.write(chunk)) this.becameFull();
      this.buffered = this.outputHeld();
    }
    if (this.waiters !== undefined) this.serveWaiters();
  }

  /** A frame (shared, never modified) for this stream, after what it already framed. */
  deliver(frame: Uint8Array): boolean {
    if (!this.admit(frame.length)) return false;
    this.queuedShared = true;
    this.enqueue(frame);
    this.run = undefined;
    this.queuedBytes += frame.length;
    return true;
  }

  /** Frame `index` (of `length` bytes) of a channel's batch for this turn. */
  share(batch: Batch, index: number, length: number): boolean {
    if (!this.admit(length)) return false;
    this.queuedShared = true;
    const run = this.run;
    if (run !== undefined && run.batch === batch && run.to === index) run.to++;
    else this.enqueue((this.run = new Segment(batch, index, index + 1)));
    this.queuedBytes += length;
    return true;
  }

  /** The keep-alive comment the core just framed needs writing. */
  keepAliveDue(): void {
    this.policy.counters.keepAlives++;
    this.framed = true;
    this.flushSoon();
  }

  /** The stall watch saw no bytes taken for a whole window. */
  stalled(): void {
    this.disconnect("stalled");
  }

  faulted(error: WebAssembly.RuntimeError): void {
    this.policy.fault(error, this);
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
    this.cancel("core_trap");
    this.finishWith(copied);
  }

  /**
   * The server is closing (or a shared channel cannot serve the stream): `last` (a frame) goes
   * after everything pending, the handler is cancelled so its cleanup runs, and the response ends.
   */
  shutdown(last: Uint8Array | undefined, cause: "server_closing" | "broker_unavailable" = "server_closing"): void {
    if (this.state !== "done" && last !== undefined) this.deliver(last);
    if (this.state === "done") return;
    const chunk = this.take();
    if (this.isDone()) return; // the core trapped
    this.cancel(cause);
    this.finishWith(chunk);
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
    this.pool.close(this);
    this.finishWith(chunk);
    this.ended();
  }

  /** Bytes this stream holds for its client now: queued, waiting, and in its output (for stats). */
  get bytesBuffered(): number {
    return this.state === "done" ? 0 : this.queuedBytes + this.waitingBytes + this.outputHeld();
  }

  private finishWith(chunk: Uint8Array | undefined): void {
    if (chunk !== undefined) this.count(chunk);
    this.finish(chunk);
  }

  /** A chunk about to be written, for stats: its bytes, and the peak with what the output holds (read afresh: the cached figure may still count bytes the client took long ago). */
  private count(chunk: Uint8Array): void {
    const counters = this.policy.counters;
    counters.bytesWritten += chunk.length;
    const held = chunk.length + this.outputHeld();
    if (held > counters.bufferedPeak) counters.bufferedPeak = held;
  }

  /** Whether events can still be sent (the handler runs and the client is there). */
  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Whether the stream ended because its client went (or was dropped for lagging, or the server or core ended it). */
  get cancelled(): boolean {
    return this.reason !== undefined;
  }

  /** The output has room again (Node's 'drain', a body's pull): write at the end of this turn. */
  protected roomAgain(): void {
    this.full = false;
    this.policy.stalls?.unblock(this);
    this.buffered = this.outputHeld();
    // Not a flush now: room often comes on the tick after a write the client took at once,
    // before the handler's microtasks frame anything new, so a flush here would send a lone
    // frame. At the end of the turn there is a full buffer's worth.
    this.flushSoon();
  }

  /** The client is gone (the connection closed, the reader cancelled): the handler is cancelled. */
  protected gone(): void {
    this.policy.stalls?.unblock(this);
    this.cancel("client_gone");
  }

  /** Cuts the client (its handler may have returned already: then only the connection goes). */
  protected disconnect(cause: "buffer_full" | "stalled" | "server_closing"): void {
    this.cancel(cause);
    // A stream that already ended (its handler returned) has no reason, but its connection must still go.
    this.drop(this.reason ?? new CancelledError(ENDED_BY[cause]));
  }

  /**
   * Has flush() called after this turn (once however often it is asked): the process's flush
   * queue, one batch per turn for every stream. A subclass whose output may only be touched
   * from its own request (a Response body on workerd) flushes itself instead.
   */
  protected flushSoon(): void {
    scheduleFlush(this);
  }

  /**
   * What every send the core accepts at once returns: one resolved promise per stream, made at
   * the first. Not one for the whole process: a handler that gives its promise a `then` of its
   * own would hang every other stream's awaits (and a frozen one breaks async_hooks).
   */
  private accepted(): Promise<void> {
    return (this.acceptedPromise ??= Promise.resolve());
  }

  /** Whether the stream is over; a method, so a check after a call that may end it is not narrowed away. */
  protected isDone(): boolean {
    return this.state === "done";
  }

  /**
   * A send (of `bytes`) to frame once the core has room. The first to wait is free (an awaited
   * send waits alone); one behind it (nobody awaited it) counts.
   */
  private wait(frame: () => number, bytes: number, held?: HeldEvent): Promise<void> {
    // The payload's own code (or a comment's toString) may have ended the stream on the way.
    if (this.isDone()) {
      if (held !== undefined) this.engine.release(held);
      return this.refused();
    }
    let cost = 0;
    if (this.waiters !== undefined && this.waiters.length > 0) {
      cost = waitingCost(bytes);
      if (!this.holds(cost)) {
        if (held !== undefined) this.engine.release(held);
        return Promise.reject(this.reason);
      }
      this.waitingBytes += cost;
    }
    return new Promise((resolve, reject) => {
      (this.waiters ??= []).push({ frame, cost, held, resolve, reject });
      this.flushSoon();
    });
  }

  /**
   * Serialises an event once, at its call, as JSON.stringify there would: framed at once when
   * `now` and the core has room (undefined), else kept as a HeldEvent to frame later. A trap
   * cancels the stream and throws its reason.
   */
  private frameOrHold(data: unknown, options: SendOptions | string | undefined, now: boolean): HeldEvent | undefined {
    const { engine, conn } = this;
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
    this.policy.counters.events++;
    this.framedNow(framed);
    return undefined;
  }

  /** Frames a held event if the core has room now; 0 if it has none. */
  private sendHeld(held: HeldEvent): number {
    const n = this.framing((engine, conn) => engine.sendHeld(conn, held));
    if (n > 0) this.policy.counters.events++;
    return n;
  }

  private tryComment(text: string): number {
    const n = this.framing((engine, conn) => engine.tryComment(conn, text));
    if (n > 0) this.policy.counters.comments++;
    return n;
  }

  /** Bytes `call` framed, 0 if the core has no room now; a trap cancels the stream and throws its reason. */
  private framing(call: (engine: Engine, conn: Conn) => number): number {
    let n: number;
    try {
      this.pool.beforeFrame(this.engine);
      n = call(this.engine, this.conn);
    } catch (error) {
      throw this.trapped(error);
    }
    if (n > 0) this.framedNow(n);
    return n;
  }

  /** `n` bytes were framed into the core; a frame in the engine's wide region (longer than a connection's own space) is copied out at once, so it is free for the next stream. */
  private framedNow(n: number): void {
    this.framed = true;
    if (n > this.engine.outBytes) this.spill();
    this.flushSoon();
  }

  /**
   * Whether a send may frame now: none waits before it and the stream's own bytes are under one
   * batch (ownHeld). So a handler's sends wait for its client at about the point they did when a
   * connection's own space in the core was a whole batch.
   */
  private mayFrameNow(): boolean {
    return this.ownHeld() < this.engine.frameBytes && (this.waiters === undefined || this.waiters.length === 0);
  }

  /**
   * The stream's own bytes held for its client, as a batch counts them: its frames copied out of
   * the core (`spilled`), and while the output is full what it holds (as last read: it only
   * drains). Counting the output too keeps a client that stops reading at two batches (one, and
   * the frame that passed it) rather than the two one flush wrote plus two more copied out.
   */
  private ownHeld(): number {
    return this.full ? this.spilled + this.buffered : this.spilled;
  }

  /** The core had no room: copy its pending bytes out (so the send frames into empty space), if they keep the batch under one. */
  private makeRoom(): boolean {
    if (this.ownHeld() + this.engine.outBytes > this.engine.frameBytes) return false;
    this.spill();
    return !this.isDone();
  }

  /** A trap fails the engine (this stream included): what to throw instead is the cancellation. */
  private trapped(error: unknown): unknown {
    if (!(error instanceof WebAssembly.RuntimeError)) return error;
    this.pool.fail(this.engine, error, this); // cancels this stream too
    return this.reason ?? error;
  }

  /** Frames waiting sends in order while the core has room and one batch is not yet copied out; a refused one rejects alone. */
  private serveWaiters(): void {
    const waiters = this.waiters!;
    // Past one batch, the rest wait for the next flush, as sends do (mayFrameNow).
    while (waiters.length > 0 && this.ownHeld() < this.engine.frameBytes) {
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
    if (waiters.length === 0) this.onIdle?.();
  }

  /** Whether `length` more bytes may be queued; if not, the stream is dropped. Restarts the keep-alive once a turn. */
  private admit(length: number): boolean {
    if (this.state === "done") return false;
    if (this.framed) this.spill();
    if (this.isDone()) return false; // the core trapped
    if (!this.holds(length)) return false;
    if (!this.touched) {
      this.touched = true;
      this.pool.touch(this, this);
    }
    this.flushSoon();
    return true;
  }

  /** Whether the stream may hold `more` bytes for its client; if not, it is disconnected as too slow. */
  private holds(more: number): boolean {
    const after = this.queuedBytes - this.spilled + this.waitingBytes + more;
    const max = this.policy.maxBufferedBytes;
    // The cached figure only errs high (the output drains in the background): look again before dropping.
    if (this.buffered + after > max && (this.buffered = this.outputHeld()) + after > max) {
      this.disconnect("buffer_full");
      return false;
    }
    return true;
  }

  /** Moves the core's pending bytes (copied: the view dies at the next engine call) to `queued`. */
  private spill(): void {
    this.framed = false;
    try {
      const copy = this.engine.drain(this.conn);
      if (copy.length === 0) return;
      this.enqueue(copy);
      this.run = undefined;
      this.queuedBytes += copy.length;
      this.spilled += copy.length;
    } catch (error) {
      // A trap fails the engine, this stream included: callers find it done.
      if (!(error instanceof WebAssembly.RuntimeError)) throw error;
      this.pool.fail(this.engine, error, this);
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
    this.queuedShared = false;
    this.run = undefined;
    this.queuedBytes = 0;
    this.spilled = 0;
    return chunk;
  }

  /** Everything queued as one chunk: a join of its own, or the lone part itself (copied, if the output hands chunks to user code, when it is shared or a view into a larger buffer). */
  private joinQueued(): Uint8Array {
    const parts = this.queued!;
    const first = parts[0]!;
    if (parts.length === 1) {
      const bytes = first instanceof Segment ? first.bytes() : first;
      // A view into a larger buffer (the engine's copy slab, which other streams' bytes share) is copied too.
      return this.handsOutChunks && (this.queuedShared || bytes.byteLength !== bytes.buffer.byteLength) ? bytes.slice() : bytes;
    }
    return concat(
      parts.map((p) => (p instanceof Segment ? p.bytes() : p)),
      this.queuedBytes,
    );
  }

  private becameFull(): void {
    this.full = true;
    this.policy.stalls?.block(this);
    this.watchRoom();
  }

  /** The client is gone (or the server or core ended the stream): free the slot, wake every waiting call with CancelledError. */
  private cancel(cause: EndCause): void {
    if (this.state === "done") return;
    const error = cancellation(cause === "buffer_full" ? `the client fell more than ${this.policy.boundName} behind` : ENDED_BY[cause]);
    this.state = "done";
    this.cause = cause;
    this.reason = error;
    this.pool.close(this);
    this.queued = undefined;
    this.queuedShared = false;
    this.run = undefined;
    this.queuedBytes = 0;
    this.spilled = 0;
    this.waitingBytes = 0;
    if (this.waiters !== undefined) {
      for (const waiter of this.waiters.splice(0)) {
        if (waiter.held !== undefined) this.engine.release(waiter.held);
        waiter.reject(error);
      }
    }
    this.sleeps?.cancel(error);
    this.onIdle?.();
    this.ended();
  }

  private ended(): void {
    this.policy.counters.ended[this.cause]++;
    this.policy.observer?.ended(this, this.cause, this.reason);
    this.controller?.abort(this.reason ?? streamEnded());
    this.resolveClosed?.();
    const listeners = this.endListeners;
    this.endListeners = undefined;
    if (listeners === undefined) return;
    if (Array.isArray(listeners)) for (const listener of listeners) listener.streamEnded(this);
    else listeners.streamEnded(this);
  }
}
