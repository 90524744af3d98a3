// A typed, runtime-agnostic engine over the ABI: instantiate from bytes or a compiled module,
// open and close connections, frame events, drain bytes. One call into the core per event.
import * as abi from "./abi.js";
import { errorFor, JsonValueError, ReentrantSendError, Status } from "./errors.js";
import { EncodeViews } from "./encode-views.js";
import { isUint8Array } from "./brands.js";
import { ownOption } from "./send-options.js";
import { TapeWriter } from "./tape.js";

export interface EngineOptions {
  /** Connection slots (default 1024). */
  maxConnections?: number;
  /** Outbound space per connection, which also bounds one event's frame unless wideBytes is larger (default 64 KiB). */
  outBytes?: number;
  /**
   * A wide region of this many bytes (more than outBytes), which one connection at a time
   * borrows for a frame larger than its own space, until its pending bytes are all taken
   * (default: none). It then bounds one event's frame: connections can have small outBytes
   * (memory is carved per connection) and still frame any event, if the host takes such a
   * frame out at once. A frame the connection cannot take now is 0 from trySend, as ever.
   */
  wideBytes?: number;
  /**
   * Staging space for one event's payload (default 4 × the largest frame + 4 KiB: a JSON tape
   * is at most 3 × its text, so any frame that fits stages; less may refuse such a frame
   * with FrameTooLargeError). With shapes and compiled readers, 4 KiB more is carved for kept strings.
   */
  stagingBytes?: number;
  /** Keep-alive comment after this many ms without bytes on a connection (default 0: off). */
  keepAliveMs?: number;
  /**
   * A history of the last `maxEvents` recorded frames (at most `maxBytes` of frames and ids),
   * for resuming clients from their Last-Event-ID (default: none).
   */
  history?: { maxEvents: number; maxBytes: number };
  /**
   * Room for object shapes (key lists) the core renders once, so objects that repeat a shape
   * cross as values only (default 256 shapes, 16 KiB of keys; false: none).
   */
  shapes?: { maxShapes: number; maxBytes: number } | false;
  /**
   * Compile a reader per object shape with `new Function` (default true): about 8% less CPU
   * per event on a stream of records. With false, or where code generation from strings is
   * refused (a CSP without 'unsafe-eval', Cloudflare Workers, node
   * --disallow-code-generation-from-strings), shapes are read in a loop over their keys: the same output.
   */
  compileShapes?: boolean;
}

export interface SendOptions {
  /** The event type; "message" if absent. */
  event?: string;
  /** The event id; "" sends an empty id, which resets the client's Last-Event-ID. */
  id?: string;
  /** The client's reconnection time in ms: a non-negative integer. */
  retry?: number;
  /** Keep the frame in the engine's history under `id` (which is then required). */
  record?: boolean;
}

export interface ConnectionStats {
  events: number;
  bytesFramed: number;
  bytesDrained: number;
  pending: number;
  /** The last retry sent, or -1. */
  retry: number;
}

/** A connection handle, as the core gives it. */
export type Conn = number;

const decoder = new TextDecoder();
/** Text up to this length is tried as ASCII first: a hand copy beats encodeInto below ~16 characters (V8 11). */
const SHORT_TEXT = 16;
/** drain() copies of up to an eighth of this share one buffer. */
const SLAB_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);
/**
 * V8 keeps typed arrays up to this size on its own heap (typed_array_max_size_in_heap):
 * slice() is then one allocation and one copy, cheaper than a view into the slab.
 */
const ON_HEAP_BYTES = 64;
/** Staging past the payload space where repeated short strings are kept (TapeWriter.keep). */
const KEPT_TEXT_BYTES = 4096;

export class Engine {
  /** The module's raw exports: private, so every call goes through the checks here. */
  readonly #core: abi.SseExports;
  readonly maxConnections: number;
  readonly outBytes: number;
  /** The wide region's size, 0 without one: a frame longer than outBytes went there. */
  readonly wideBytes: number;
  /** The largest frame: outBytes, or wideBytes when it is larger. */
  readonly frameBytes: number;
  private readonly u8: Uint8Array;
  private readonly staging: number;
  private readonly stagingEnd: number;
  private readonly tape: TapeWriter;
  private readonly encoded: EncodeViews;
  /** out_take leaves its count here: one u32 of wasm memory. */
  private readonly taken: Uint32Array;
  /** Made at the first drain(): hosts that copy out on their own never pay for it. */
  private slab = EMPTY;
  private slabUsed = 0;
  /**
   * A payload is being serialised: its toJSON, getters and Proxy traps run now, and staging
   * holds its half-written fields and tape. Anything that stages is refused meanwhile.
   */
  private busy = false;
  /** The send() arguments of what stage() left in staging (fields, not locals: held() copies them). */
  private flags = 0;
  private eventLen = 0;
  private idLen = 0;
  private dataLen = 0;
  private retryMs = 0;

  /** Instantiates the module (bytes or compiled) and initialises it. */
  static async load(source: BufferSource | WebAssembly.Module, options: EngineOptions = {}): Promise<Engine> {
    const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
    return new Engine(await WebAssembly.instantiate(module, {}), options);
  }

  /** Wraps an instance of the module and initialises it. */
  constructor(instance: WebAssembly.Instance, options: EngineOptions = {}) {
    const x = instance.exports as unknown as abi.SseExports;
    if (x.abi_version() !== abi.ABI_VERSION) {
      throw new Error(`sse.wasm speaks ABI ${x.abi_version()}, these bindings ${abi.ABI_VERSION}`);
    }
    this.maxConnections = options.maxConnections ?? 1024;
    this.outBytes = options.outBytes ?? 64 * 1024;
    this.wideBytes = options.wideBytes ?? 0;
    this.frameBytes = Math.max(this.outBytes, this.wideBytes);
    const stagingBytes = options.stagingBytes ?? 4 * this.frameBytes + 4096;
    const shapes = options.shapes ?? { maxShapes: 256, maxBytes: 16 * 1024 };
    // Repeated strings of shaped objects are kept past the payload space (see TapeWriter.keep).
    // A stagingBytes init refuses is passed on as it is, so the refusal stays the same.
    const keptBytes = shapes && options.compileShapes !== false && stagingBytes >= abi.MIN_STAGING &&
      stagingBytes <= abi.MAX_REGION - KEPT_TEXT_BYTES ? KEPT_TEXT_BYTES : 0;
    check(x.init(this.maxConnections, this.outBytes, stagingBytes + keptBytes, options.keepAliveMs ?? 0), "init");
    if (this.wideBytes > 0) check(x.wide_init(this.wideBytes), "init");
    if (options.history) check(x.history_init(options.history.maxEvents, options.history.maxBytes), "init");
    if (shapes) check(x.shape_init(shapes.maxShapes, shapes.maxBytes), "init");
    this.#core = x;
    // Configuration is the only time memory grows, so views taken now stay valid.
    this.u8 = new Uint8Array(x.memory.buffer);
    this.staging = x.staging_ptr();
    this.stagingEnd = this.staging + x.staging_cap() - keptBytes;
    this.encoded = new EncodeViews(this.u8);
    this.taken = new Uint32Array(x.memory.buffer, x.taken_ptr(), 1);
    const define = shapes ? (at: number, len: number) => x.shape_define(at - this.staging, len) : undefined;
    const kept = keptBytes > 0 ? { base: this.staging, start: this.stagingEnd, end: this.stagingEnd + keptBytes } : undefined;
    this.tape = new TapeWriter(x.memory.buffer, this.encoded, define, options.compileShapes !== false, kept);
  }

  /** The engine's linear memory (its size is carved once, at construction). */
  get memory(): WebAssembly.Memory {
    return this.#core.memory;
  }

  /**
   * Whether a payload is being serialised now: code running inside it (a toJSON, a getter, a
   * Proxy trap) that would stage anything on this engine is refused with ReentrantSendError.
   * Hosts that queue a call instead of staging it ask this first.
   */
  get serialising(): boolean {
    return this.busy;
  }

  /** Opens a connection; `lastEventId` is what the client sent in Last-Event-ID. */
  open(lastEventId?: string): Conn {
    if (this.busy) throw new ReentrantSendError("open");
    const len = lastEventId === undefined ? -1 : this.stageText(lastEventId, this.staging);
    return check(this.#core.conn_open(len), "open");
  }

  close(conn: Conn): void {
    check(this.#core.conn_close(conn), "close");
  }

  isOpen(conn: Conn): boolean {
    return this.#core.conn_state(conn) === 1;
  }

  get openCount(): number {
    return this.#core.open_count();
  }

  /**
   * Frames one event. A string goes as text (each line a `data:` line); a Uint8Array as
   * UTF-8 text bytes; anything else as its JSON.stringify text. Returns the bytes framed.
   * A string second argument is the event name, as in Microdot's send(data, event).
   */
  send(conn: Conn, data: unknown, options?: SendOptions | string): number {
    const framed = this.trySend(conn, data, options);
    if (framed === 0) throw errorFor(Status.NO_SPACE, "send");
    return framed;
  }

  /**
   * send() for hosts that drain on demand: 0 (no frame is ever empty) where send() would
   * throw BufferFullError, so a full buffer is a branch, not an exception. Nothing is
   * written then; drain and call again.
   */
  trySend(conn: Conn, data: unknown, options?: SendOptions | string): number {
    return this.frame(conn, data, options, false);
  }

  /** A frame of fields only: retry and/or id, no data, so no event is dispatched. */
  control(conn: Conn, options: { id?: string; retry?: number }): number {
    const framed = this.frame(conn, undefined, options, true);
    if (framed === 0) throw errorFor(Status.NO_SPACE, "control");
    return framed;
  }

  /**
   * trySend(), except that an event the core has no room for now is kept as it was serialised
   * at this call (a HeldEvent, for sendHeld once pending bytes drain): its toJSON, getters and
   * traps run once, now, as JSON.stringify's would. Allocates only when the core is full.
   */
  sendOrHold(conn: Conn, data: unknown, options?: SendOptions | string): number | HeldEvent {
    const framed = this.frame(conn, data, options, false);
    return framed > 0 ? framed : this.held();
  }

  /** Serialises an event now, to be framed later by sendHeld (behind events already waiting). */
  hold(data: unknown, options?: SendOptions | string): HeldEvent {
    this.stage(data, options, false);
    return this.held();
  }

  /**
   * Frames a held event on `conn`: its bytes framed, or 0 while the core still has no room
   * (the event stays held). Sent or refused, it is released.
   */
  sendHeld(conn: Conn, held: HeldEvent): number {
    if (held.released) throw new TypeError("this held event was already sent or released");
    if (this.busy) throw new ReentrantSendError("sendHeld");
    this.u8.set(held.bytes, this.staging);
    let framed: number;
    try {
      framed = orFull(this.#core.send(conn, held.flags, held.eventLen, held.idLen, held.dataLen, held.retryMs), "send");
    } catch (error) {
      this.release(held);
      throw error;
    }
    if (framed > 0) this.release(held);
    return framed;
  }

  /** Drops a held event that will not be sent (its stream ended). Idempotent. */
  release(held: HeldEvent): void {
    if (held.released) return;
    held.released = true;
    if (held.pinsKept) this.tape.unpinKept();
  }

  /** What stage() left in staging, copied; a tape naming kept strings keeps them in place until release. */
  private held(): HeldEvent {
    const bytes = this.u8.slice(this.staging, this.staging + this.eventLen + this.idLen + this.dataLen);
    const pinsKept = (this.flags & abi.DATA_JSON) !== 0 && this.tape.pinKept();
    return new HeldEvent(bytes, this.flags, this.eventLen, this.idLen, this.dataLen, this.retryMs, pinsKept);
  }

  /** send() and control(): stages the fields (and the data, unless `noData`), then one call. */
  private frame(conn: Conn, data: unknown, options: SendOptions | string | undefined, noData: boolean): number {
    this.stage(data, options, noData);
    return orFull(this.#core.send(conn, this.flags, this.eventLen, this.idLen, this.dataLen, this.retryMs), "send");
  }

  /**
   * Writes an event's fields and data into staging, refusing a call from the caller's own code
   * mid-way. (One function with the busy flag: a level less keeps V8 inlining the payload's
   * tape writer into it, about 3% of a record's send.)
   */
  private stage(data: unknown, options: SendOptions | string | undefined, noData: boolean): void {
    if (this.busy) throw new ReentrantSendError("send");
    // Reading the options and the payload runs the caller's code (getters, toString, toJSON).
    this.busy = true;
    try {
      // Read the options without allocating: this runs once per event.
      let event: unknown;
      let id: unknown;
      let retry: unknown;
      let record = false;
      if (typeof options === "string") {
        event = options;
      } else if (options !== undefined) {
        event = ownOption(options, "event");
        id = ownOption(options, "id");
        retry = ownOption(options, "retry");
        record = ownOption(options, "record") === true;
      }
      let flags = 0;
      let p = this.staging;
      let eventLen = 0;
      let idLen = 0;
      if (event !== undefined) {
        flags |= abi.HAS_EVENT;
        eventLen = this.stageText(String(event), p);
        p += eventLen;
      }
      if (id !== undefined) {
        flags |= abi.HAS_ID;
        idLen = this.stageText(String(id), p);
        p += idLen;
      }
      let retryMs = 0;
      if (retry !== undefined) {
        flags |= abi.HAS_RETRY;
        retryMs = typeof retry === "number" ? retry : NaN;
      }
      if (record) {
        if (id === undefined) throw new TypeError("a recorded event needs an id");
        flags |= abi.RECORD;
      }
      let dataLen = 0;
      if (noData) {
        flags |= abi.NO_DATA;
      } else if (typeof data === "string") {
        dataLen = this.stageText(data, p);
      } else if (isUint8Array(data)) {
        if (data.length > this.stagingEnd - p) throw errorFor(Status.TOO_LARGE, "the payload does not fit the staging space");
        this.u8.set(data, p);
        dataLen = data.length;
      } else {
        flags |= abi.DATA_JSON;
        dataLen = this.tape.write(data, p, this.stagingEnd);
        if (dataLen < 0) throw new JsonValueError(`${describe(data)} has no JSON form (JSON.stringify returns undefined)`);
      }
      this.flags = flags;
      this.eventLen = eventLen;
      this.idLen = idLen;
      this.dataLen = dataLen;
      this.retryMs = retryMs;
    } finally {
      this.busy = false;
    }
  }

  /** A comment (each line prefixed with ":"): invisible to EventSource, seen by proxies. */
  comment(conn: Conn, text: string): number {
    const framed = this.tryComment(conn, text);
    if (framed === 0) throw errorFor(Status.NO_SPACE, "comment");
    return framed;
  }

  /** comment() with a full buffer as 0 rather than BufferFullError, as trySend. */
  tryComment(conn: Conn, text: string): number {
    if (this.busy) throw new ReentrantSendError("comment");
    return orFull(this.#core.comment(conn, this.stageText(text, this.staging)), "comment");
  }

  /** The pending bytes, as a view into wasm memory that is valid until the next engine call. */
  pending(conn: Conn): Uint8Array {
    const x = this.#core;
    const ptr = check(x.out_ptr(conn), "pending");
    return this.u8.subarray(ptr, ptr + x.out_len(conn));
  }

  /** Marks the first n pending bytes as delivered. */
  consume(conn: Conn, n: number): void {
    check(this.#core.out_consume(conn, n), "consume");
  }

  /** Copies out every pending byte and marks it delivered (one call into the core). */
  drain(conn: Conn): Uint8Array {
    const ptr = check(this.#core.out_take(conn), "drain");
    const len = this.taken[0]!;
    return len === 0 ? EMPTY : this.copyOut(ptr, len);
  }

  /**
   * A copy of [ptr, ptr + len) that outlives the call. The tiniest are sliced (V8 keeps them
   * on its heap); small ones are carved from a shared slab (as Node pools small Buffers): a
   * view is far cheaper than a new ArrayBuffer each; large ones get their own.
   */
  private copyOut(ptr: number, len: number): Uint8Array {
    if (len <= ON_HEAP_BYTES || len > SLAB_BYTES >> 3) return this.u8.slice(ptr, ptr + len);
    if (this.slabUsed + len > this.slab.length) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const at = this.slabUsed;
    this.slab.set(this.u8.subarray(ptr, ptr + len), at);
    this.slabUsed = at + len;
    return this.slab.subarray(at, at + len);
  }

  stats(conn: Conn): ConnectionStats {
    const x = this.#core;
    check(x.conn_state(conn), "stats");
    return {
      events: x.conn_stat(conn, abi.STAT_EVENTS),
      bytesFramed: x.conn_stat(conn, abi.STAT_BYTES_FRAMED),
      bytesDrained: x.conn_stat(conn, abi.STAT_BYTES_DRAINED),
      pending: x.conn_stat(conn, abi.STAT_PENDING),
      retry: x.conn_stat(conn, abi.STAT_RETRY),
    };
  }

  /** The id the client last saw: the last id sent, else the Last-Event-ID it came with. */
  lastEventId(conn: Conn): string | undefined {
    const x = this.#core;
    const len = check(x.last_id_len(conn), "lastEventId");
    if (x.conn_stat(conn, abi.STAT_HAS_LAST_ID) !== 1) return undefined;
    const ptr = x.last_id_ptr(conn);
    return decoder.decode(this.u8.subarray(ptr, ptr + len));
  }

  /** Tells the core the time; returns the connections that just got a keep-alive comment. */
  tick(nowMs: number): Conn[] {
    const x = this.#core;
    const n = check(x.tick(nowMs), "tick");
    const due = new Int32Array(x.memory.buffer, x.due_ptr(), n);
    return Array.from(due);
  }

  /** Sets the core's clock (O(1)): frames framed from now on restart keep-alives from nowMs. */
  setNow(nowMs: number): void {
    check(this.#core.set_now(nowMs), "setNow");
  }

  /** Restarts a connection's keep-alive, for bytes written to its peer that it did not frame. */
  touch(conn: Conn): void {
    check(this.#core.conn_touch(conn), "touch");
  }

  /** When tick() next has work (ms, on the clock tick() is given); Infinity if never. */
  nextDeadline(): number {
    return this.#core.next_deadline();
  }

  /** How many frames the history holds. */
  get historySize(): number {
    return this.#core.history_count();
  }

  /**
   * The recorded frames after the one with `lastEventId`, oldest first, as copies;
   * undefined when that id is not in the history (too old, or never sent).
   */
  framesAfter(lastEventId: string): Uint8Array[] | undefined {
    const at = this.historyIndex(lastEventId);
    return at === undefined ? undefined : this.framesFrom(at + 1);
  }

  /** The position (0: oldest) of the newest kept frame with this id, copying nothing; undefined if none. */
  historyIndex(id: string): number | undefined {
    if (this.busy) throw new ReentrantSendError("historyIndex");
    const at = this.#core.history_find(this.stageText(id, this.staging));
    return at === Status.ID_UNKNOWN ? undefined : check(at, "historyIndex");
  }

  /** Copies of the recorded frames from position `first` (0: oldest) on. */
  framesFrom(first = 0): Uint8Array[] {
    const x = this.#core;
    const frames: Uint8Array[] = [];
    for (let i = first, n = x.history_count(); i < n; i++) {
      const ptr = check(x.history_ptr(i), "framesFrom");
      frames.push(this.u8.slice(ptr, ptr + x.history_len(i)));
    }
    return frames;
  }

  /** The recorded frames from position `first` on as one copy (a replay written at once), and how many they are. */
  framesJoined(first: number): { bytes: Uint8Array; count: number } {
    const x = this.#core;
    const n = x.history_count();
    let total = 0;
    for (let i = first; i < n; i++) total += check(x.history_len(i), "framesJoined");
    const bytes = new Uint8Array(total);
    for (let i = first, at = 0; i < n; i++) {
      const ptr = x.history_ptr(i);
      const len = x.history_len(i);
      bytes.set(this.u8.subarray(ptr, ptr + len), at);
      at += len;
    }
    return { bytes, count: Math.max(0, n - first) };
  }

  /** UTF-8 of `text` at p, refused if it overflows staging; returns its byte length. */
  private stageText(text: string, p: number): number {
    const n = text.length;
    if (n <= SHORT_TEXT && p + n <= this.stagingEnd) {
      // Event names and ids are short and ASCII: copying by hand beats a TextEncoder call.
      const u8 = this.u8;
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        u8[p + i] = c;
      }
      if (i === n) return n;
    }
    const { read, written } = this.encoded.encode(text, p, this.stagingEnd);
    if (read !== text.length) throw errorFor(Status.TOO_LARGE, "the payload does not fit the staging space");
    return written;
  }
}

/**
 * An event serialised when it was sent, waiting for room in its connection (Engine.sendOrHold,
 * hold): a copy of its staged fields and tape, so its payload's code never runs twice and
 * later changes to the payload do not reach it.
 */
export class HeldEvent {
  /** Sent or dropped: it may not be sent again. */
  released = false;
  constructor(
    readonly bytes: Uint8Array,
    readonly flags: number,
    readonly eventLen: number,
    readonly idLen: number,
    readonly dataLen: number,
    readonly retryMs: number,
    /** Its tape names strings in the kept-text space, which stays as it is until release. */
    readonly pinsKept: boolean,
  ) {}
}

/** A frame's length, 0 for NO_SPACE (no frame is ever empty); throws for any other error. */
function orFull(status: number, op: string): number {
  return status === Status.NO_SPACE ? 0 : check(status, op);
}

/** Returns a non-negative status; throws the typed error for a negative one. */
function check(status: number, op: string): number {
  if (status < 0) throw errorFor(status, op);
  return status;
}

function describe(v: unknown): string {
  return v === undefined ? "undefined" : typeof v === "function" ? "a function" : typeof v === "symbol" ? "a symbol" : typeof v;
}
