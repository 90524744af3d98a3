// A reference model of the core's raw ABI (README.md "ABI", "Status codes"), written from the
// spec and never asking the engine: it frames events, comments and keep-alives itself, turns
// JSON value tapes into JSON text itself, and tracks each connection's exact pending bytes,
// counters, last id and keep-alive deadline. test/fuzz-abi.test.ts compares the engine with
// it after every call. Each method takes the raw JS arguments of the export (the model applies
// the same ToInt32 conversion a wasm i32 parameter does) and returns the expected result.
// The optional history ring and shape table (history_init, shape_init) are modelled too, once
// configured with small limits: the shape table's rendered key lists and the ring's exact
// placement of each recorded frame (both bounded, evicting or refusing as assembly/shapes.ts and
// assembly/history.ts state), so the fuzzer can check their query answers and bytes. Their
// memory sits after init's carve (assembly/memory.ts carveMore); the model learns where that
// carve ends from the fuzzer (place) and predicts every address from there.
// So is the wide region (wide_init, ABI 6), carved the same way: the one space per engine that a
// connection with nothing pending borrows for a frame its own outbound space cannot take, and
// holds until its pending bytes are all consumed or it closes (README.md "The wide region").
import {
  HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, NO_DATA, RECORD, ALL_FLAGS, MAX_CONNS, MIN_REGION, MAX_REGION, MIN_STAGING,
  ID_MAX, MAX_DEPTH, MAX_HISTORY_EVENTS, MAX_SHAPES, STAT_EVENTS, STAT_BYTES_FRAMED, STAT_BYTES_DRAINED, STAT_PENDING,
  STAT_RETRY, STAT_DEADLINE, STAT_HAS_LAST_ID, TAG_NULL, TAG_FALSE, TAG_NUMBER, TAG_STR8, TAG_STR16,
  TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT, TAG_OBJECT_END, TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS,
} from "../../assembly/abi.js";
import { Status } from "../../bindings/errors.js";

// The ABI's numbers are the core's own (assembly/abi.ts): the model is independent in what it
// does with them, not in their values.
export const {
  NOT_INIT, BAD_ARG, UNKNOWN_CONN, CAPACITY, ALREADY_INIT, NO_MEMORY, EVENT_NAME, ID, RETRY, TOO_LARGE, NO_SPACE,
  BAD_TAPE, ID_TOO_LONG, ID_UNKNOWN,
} = Status;
export { HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, NO_DATA, RECORD, MAX_DEPTH };

/** Pointers stay below this (assembly/memory.ts): a configuration past it is NO_MEMORY. */
const ADDRESS_LIMIT = 0x7fff_0000;
/**
 * The core's layout (assembly/memory.ts carve, conn.ts record): connection records, outbound
 * spaces, staging, the due list, then the tape reader's depth stack (8 bytes a level) and a
 * number scratch. The fuzz test needs these to tell the core's arenas from the rest of memory.
 */
export const ROW_BYTES = 64 + ID_MAX;
export const FIXED_TAIL = MAX_DEPTH * 8 + 32;
/** Bytes of one history index entry (ring offset, id length, frame length) and of one shape table entry. */
const HISTORY_ENTRY = 12;
const SHAPE_ENTRY = 4;
/** Configurations whose whole carve stays below this surely fit the module (it has no maximum). */
const SURELY_FITS = 64 * 2 ** 20;

const LF = 0x0a;
const CR = 0x0d;

export interface Config {
  maxConns: number;
  outBytes: number;
  stagingBytes: number;
  keepAliveMs: number;
}

export class ModelConn {
  /** Bytes [0, len) are pending; grown on demand, as a connection holding the wide region has more room than outBytes. */
  pending: Uint8Array;
  len = 0;
  events = 0;
  framed = 0;
  drained = 0;
  retry = -1;
  lastId: Uint8Array | null = null;
  constructor(readonly handle: number, readonly slot: number, outBytes: number, public deadline: number) {
    this.pending = new Uint8Array(outBytes);
  }

  append(bytes: Uint8Array, n: number): void {
    if (this.len + n > this.pending.length) {
      const next = new Uint8Array(Math.max(this.pending.length * 2, this.len + n));
      next.set(this.pending.subarray(0, this.len));
      this.pending = next;
    }
    this.pending.set(bytes.subarray(0, n), this.len);
    this.len += n;
    this.framed += n;
  }

  /** conn_stat by index. */
  stat(which: number): number {
    switch (which) {
      case STAT_EVENTS: return this.events;
      case STAT_BYTES_FRAMED: return this.framed;
      case STAT_BYTES_DRAINED: return this.drained;
      case STAT_PENDING: return this.len;
      case STAT_RETRY: return this.retry;
      case STAT_DEADLINE: return this.deadline;
      case STAT_HAS_LAST_ID: return this.lastId ? 1 : 0;
      default: return NaN;
    }
  }
}

/** A growable byte buffer the model frames into. */
export class Bytes {
  buf = new Uint8Array(1024);
  len = 0;
  private readonly encoder = new TextEncoder();

  reset(): void {
    this.len = 0;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }

  ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }

  text(s: string): void {
    this.room(s.length * 3);
    this.len += this.encoder.encodeInto(s, this.buf.subarray(this.len)).written;
  }
}

/** JSON.stringify's escape of each byte that needs one in a UTF-8 string body, else undefined. */
const BYTE_ESCAPES: (string | undefined)[] = Array.from({ length: 256 }, (_, c) =>
  c < 0x20 || c === 0x22 || c === 0x5c ? JSON.stringify(String.fromCharCode(c)).slice(1, -1) : undefined);

/** A defined shape: each member's rendered `"key":` bytes, in the shape's order. */
export type ShapeKeys = readonly Uint8Array[];

/** An open container of the tape reader: an array, a spelled-out object, or a shaped object and its next member. */
type Level = { kind: typeof TAG_ARRAY | typeof TAG_OBJECT } | { kind: typeof TAG_SHAPE; keys: ShapeKeys; next: number };

/**
 * Appends the JSON text of the tape string whose count starts at p (after its tag) to `w`,
 * quoted; the position after it, or -1 if truncated.
 */
function quoted(src: Uint8Array, view: DataView, p: number, end: number, utf16: boolean, w: Bytes): number {
  if (end - p < 4) return -1;
  const count = view.getUint32(p, true);
  p += 4;
  const size = utf16 ? count * 2 : count;
  if (size > end - p) return -1;
  if (utf16) {
    let s = "";
    for (let i = 0; i < count; i++) s += String.fromCharCode(view.getUint16(p + 2 * i, true));
    w.text(JSON.stringify(s));
  } else {
    utf8Quoted(src, p, p + size, w);
  }
  return p + size;
}

/** Bytes [from, to) of src as a JSON string: quoted, with ASCII controls, '"' and backslash escaped. */
function utf8Quoted(src: Uint8Array, from: number, to: number, w: Bytes): void {
  w.byte(0x22);
  for (let i = from; i < to; i++) {
    const esc = BYTE_ESCAPES[src[i]!];
    if (esc === undefined) w.byte(src[i]!);
    else w.ascii(esc);
  }
  w.byte(0x22);
}

/**
 * Appends the JSON text of the value tape [start, end) of `src` (format: assembly/json.ts);
 * false if the tape is malformed: an unknown tag, a truncated item, a key outside an object or
 * a value where a key belongs, unbalanced or mismatched ends, nesting past MAX_DEPTH, nothing
 * at all, or bytes after the top-level value. `shapes` are the defined shapes by id: a shaped
 * object (0x0C) takes one value or skip (0x0D) per member, or a run of skips (0x10, count),
 * and ends by itself after the last;
 * an unknown id, a key or an end tag among its members, or a skip anywhere else is malformed.
 * A string kept elsewhere (0x0E) names bytes of `src` itself, which is then all of staging.
 */
export function tapeToJson(src: Uint8Array, start: number, end: number, w: Bytes, shapes: readonly ShapeKeys[] = []): boolean {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const stack: Level[] = [];
  let first = true;
  let wantValue = false;
  let done = false;
  let p = start;
  for (;;) {
    let top = stack[stack.length - 1];
    // A shaped object has no end tag: it is complete once its last member is read.
    while (top?.kind === TAG_SHAPE && top.next === top.keys.length) {
      w.byte(0x7d);
      stack.pop();
      first = false;
      done = stack.length === 0;
      top = stack[stack.length - 1];
    }
    if (p >= end) break;
    if (done) return false;
    const tag = src[p++]!;
    if (tag === TAG_ARRAY_END || tag === TAG_OBJECT_END) {
      if (wantValue || top?.kind !== (tag === TAG_ARRAY_END ? TAG_ARRAY : TAG_OBJECT)) return false;
      w.byte(tag === TAG_ARRAY_END ? 0x5d : 0x7d);
      stack.pop();
      first = false;
      done = stack.length === 0;
      continue;
    }
    const isKey = tag === TAG_KEY8 || tag === TAG_KEY16;
    if (top?.kind === TAG_SHAPE) {
      // The member's key is the shape's; a skip leaves the member (and its comma) out.
      if (isKey) return false;
      if (tag === TAG_SKIPS) {
        // A run: this member and count - 1 more are left out; it may not pass the last member.
        if (p >= end) return false;
        const count = src[p++]!;
        if (count === 0 || count > top.keys.length - top.next) return false;
        top.next += count;
        continue;
      }
      const key = top.keys[top.next++]!;
      if (tag === TAG_SKIP) continue;
      if (!first) w.byte(0x2c);
      w.bytes(key, 0, key.length);
    } else {
      if (top?.kind === TAG_OBJECT && !wantValue ? !isKey : isKey) return false;
      if (!first && !wantValue) w.byte(0x2c);
    }
    if (tag > TAG_SHAPE && tag !== TAG_STR_AT && tag !== TAG_INT32) return false;
    first = false;
    wantValue = false;
    if (tag === TAG_ARRAY || tag === TAG_OBJECT || tag === TAG_SHAPE) {
      if (stack.length === MAX_DEPTH) return false;
      if (tag === TAG_SHAPE) {
        if (end - p < 2) return false;
        const keys = shapes[view.getUint16(p, true)];
        if (keys === undefined) return false;
        p += 2;
        stack.push({ kind: TAG_SHAPE, keys, next: 0 });
      } else {
        stack.push({ kind: tag });
      }
      first = true;
      w.byte(tag === TAG_ARRAY ? 0x5b : 0x7b);
      continue;
    }
    if (tag === TAG_NUMBER) {
      if (end - p < 8) return false;
      w.ascii(JSON.stringify(view.getFloat64(p, true)));
      p += 8;
    } else if (tag === TAG_INT32) {
      if (end - p < 4) return false;
      w.ascii(String(view.getInt32(p, true)));
      p += 4;
    } else if (tag === TAG_STR_AT) {
      if (end - p < 8) return false;
      const at = view.getUint32(p, true);
      const count = view.getUint32(p + 4, true);
      if (at > src.length || count > src.length - at) return false;
      utf8Quoted(src, at, at + count, w);
      p += 8;
    } else if (tag >= TAG_STR8) {
      p = quoted(src, view, p, end, tag === TAG_STR16 || tag === TAG_KEY16, w);
      if (p < 0) return false;
      if (isKey) {
        w.byte(0x3a);
        wantValue = true;
        continue;
      }
    } else {
      w.ascii(tag === TAG_NULL ? "null" : tag === TAG_FALSE ? "false" : "true");
    }
    done = stack.length === 0;
  }
  return done;
}

/**
 * A shape's table entry from the key list [start, end) of `src` (a u32 count, then per key a
 * tape string, tag 0x04, 0x05, 0x0A or 0x0B): [u32 count][per key: u32 length, `"key":`], and
 * each key's `"key":`; undefined if the list is malformed (short, count past 0xFFFF, another
 * tag, a truncated key, or bytes after the last key).
 */
export function renderShape(src: Uint8Array, start: number, end: number): { entry: Uint8Array; keys: Uint8Array[] } | undefined {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  if (end - start < 4) return undefined;
  const n = view.getUint32(start, true);
  if (n > 0xffff) return undefined;
  const keys: Uint8Array[] = [];
  const key = new Bytes();
  let p = start + 4;
  for (let i = 0; i < n; i++) {
    if (p >= end) return undefined;
    const tag = src[p++]!;
    if (tag !== TAG_STR8 && tag !== TAG_STR16 && tag !== TAG_KEY8 && tag !== TAG_KEY16) return undefined;
    key.reset();
    p = quoted(src, view, p, end, tag === TAG_STR16 || tag === TAG_KEY16, key);
    if (p < 0) return undefined;
    key.byte(0x3a);
    keys.push(key.buf.slice(0, key.len));
  }
  if (p !== end) return undefined;
  const entry = new Uint8Array(4 + keys.reduce((sum, k) => sum + 4 + k.length, 0));
  const out = new DataView(entry.buffer);
  out.setUint32(0, n, true);
  let at = 4;
  for (const k of keys) {
    out.setUint32(at, k.length, true);
    entry.set(k, at + 4);
    at += 4 + k.length;
  }
  return { entry, keys };
}

/** The shape table (assembly/shapes.ts): ids in definition order, entries back to back in the area. */
export class ModelShapes {
  readonly keys: ShapeKeys[] = [];
  /** Each shape's entry offset in the area (the table's u32s). */
  readonly offsets: number[] = [];
  /** The area's bytes [0, used) as the committed entries left them. */
  readonly area: Uint8Array;
  used = 0;
  constructor(readonly maxShapes: number, readonly areaBytes: number, readonly tableAt: number, readonly areaAt: number) {
    this.area = new Uint8Array(areaBytes);
  }

  define(src: Uint8Array, start: number, end: number): number {
    // A full table refuses before reading the list; a bad list is refused before its size counts.
    if (this.keys.length === this.maxShapes) return CAPACITY;
    const shape = renderShape(src, start, end);
    if (!shape) return BAD_TAPE;
    if (shape.entry.length > this.areaBytes - this.used) return CAPACITY;
    this.area.set(shape.entry, this.used);
    this.offsets.push(this.used);
    this.used += shape.entry.length;
    this.keys.push(shape.keys);
    return this.keys.length - 1;
  }
}

export interface HistoryEntry {
  /** Where the entry (id, then frame) starts in the ring. */
  at: number;
  id: Uint8Array;
  frame: Uint8Array;
}

/**
 * The history (assembly/history.ts): the newest recorded frames, oldest first, each stored whole
 * and contiguous as its id then its frame. A new entry goes where the last one ended, or at the
 * ring's start when it does not fit before the end; the oldest entries are evicted first, for
 * the count bound and until none overlaps the new one, so the kept run is gap-free. An entry
 * larger than the whole ring is not kept and empties the history.
 */
export class ModelHistory {
  entries: HistoryEntry[] = [];
  writeAt = 0;
  /** Evictions for the count bound, evictions for room, entries too large that emptied it: for the fuzzer's report. */
  byCount = 0;
  byBytes = 0;
  emptied = 0;
  /** The ring's bytes: what every kept (or since evicted) entry wrote there. */
  readonly ring: Uint8Array;
  constructor(readonly maxEvents: number, readonly ringBytes: number, readonly indexAt: number, readonly ringAt: number) {
    this.ring = new Uint8Array(ringBytes);
  }

  record(id: Uint8Array, frame: Uint8Array): void {
    const need = id.length + frame.length;
    if (need > this.ringBytes) {
      this.emptied++;
      this.entries = [];
      this.writeAt = 0;
      return;
    }
    if (this.entries.length === this.maxEvents) {
      this.entries.shift();
      this.byCount++;
    }
    const at = this.writeAt + need <= this.ringBytes ? this.writeAt : 0;
    const overlaps = (e: HistoryEntry) => e.at < at + need && at < e.at + e.id.length + e.frame.length;
    while (this.entries.some(overlaps)) {
      this.entries.shift();
      this.byBytes++;
    }
    this.entries.push({ at, id, frame });
    this.ring.set(id, at);
    this.ring.set(frame, at + id.length);
    this.writeAt = at + need;
  }

  /** The newest entry with this id's position, or -1. */
  find(id: Uint8Array): number {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!.id;
      if (e.length === id.length && e.every((b, k) => b === id[k])) return i;
    }
    return -1;
  }

  /** Where the frame at a position starts in memory. */
  framePtr(i: number): number {
    const e = this.entries[i]!;
    return this.ringAt + e.at + e.id.length;
  }
}

/**
 * The wide region (assembly/conn.ts widen): `bytes` at `at`, and the connection whose pending
 * bytes are there, if any. The counters are for the fuzzer's report: frames that borrowed it,
 * frames it could have taken but another connection held it, frames refused because their own
 * connection had bytes pending, frames too large for it too, and how it came back.
 */
export class ModelWide {
  owner: ModelConn | null = null;
  borrowed = 0;
  heldByOther = 0;
  ownPending = 0;
  tooLarge = 0;
  releasedByConsume = 0;
  releasedByClose = 0;
  constructor(readonly at: number, readonly bytes: number) {}
}

/** "event"/"data" lines may not hold CR or LF; ids may not hold CR, LF or NUL either. */
function hasBreak(src: Uint8Array, start: number, end: number, nulToo: boolean): boolean {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c === LF || c === CR || (nulToo && c === 0)) return true;
  }
  return false;
}

/** One `prefix line\n` per line of [start, end), lines split on CRLF, CR and LF. */
function lines(w: Bytes, prefix: string, src: Uint8Array, start: number, end: number): void {
  let lineStart = start;
  for (let i = start; ; i++) {
    if (i === end || src[i] === LF || src[i] === CR) {
      w.ascii(prefix);
      w.bytes(src, lineStart, i);
      w.byte(LF);
      if (i === end) return;
      if (src[i] === CR && i + 1 < end && src[i + 1] === LF) i++;
      lineStart = i + 1;
    }
  }
}

function validRetry(ms: number): boolean {
  return ms >= 0 && ms <= Number.MAX_SAFE_INTEGER && ms === Math.floor(ms);
}

const toI32 = (x: number) => x | 0;
const KEEP_ALIVE = Uint8Array.of(0x3a, LF);
const align16 = (n: number) => Math.ceil(n / 16) * 16;
/** A copy (a Buffer's slice would be a view of the host's staging). */
const copy = (src: Uint8Array, start: number, end: number) => Uint8Array.prototype.slice.call(src, start, end);

/**
 * What init answers on a fresh module: BAD_ARG, NO_MEMORY (the carve would pass the address
 * limit whatever the static data's size), 0 (a small carve), or undefined (a large one the
 * model cannot decide without knowing the static data's size and the host's memory).
 */
export function initOutcome(maxConnsRaw: number, outRaw: number, stagingRaw: number, keepAliveMs: number): number | undefined {
  const maxConns = toI32(maxConnsRaw);
  const outBytes = toI32(outRaw);
  const stagingBytes = toI32(stagingRaw);
  if (maxConns < 1 || maxConns > MAX_CONNS || outBytes < MIN_REGION || outBytes > MAX_REGION ||
      stagingBytes < MIN_STAGING || stagingBytes > MAX_REGION || !(keepAliveMs >= 0 && keepAliveMs < Infinity)) {
    return BAD_ARG;
  }
  const carved = maxConns * (ROW_BYTES + outBytes + 4) + stagingBytes + FIXED_TAIL;
  if (carved > ADDRESS_LIMIT) return NO_MEMORY;
  return carved + 1024 * 1024 <= SURELY_FITS ? 0 : undefined;
}

export class Model {
  ready = false;
  config: Config = { maxConns: 0, outBytes: 0, stagingBytes: 0, keepAliveMs: 0 };
  now = 0;
  /** The open connection in each slot, or null. */
  slots: (ModelConn | null)[] = [];
  /** Each slot's current generation: a handle is (generation << 16) | slot. */
  gens: number[] = [];
  openCount = 0;
  /** How many times a slot's generation wrapped from 32767 back to 1. */
  wraps = 0;
  /** Handles tick() listed, in slot order. */
  due: number[] = [];
  /** The last frame the model built (send, comment), for checks of what was or was not written. */
  readonly frame = new Bytes();
  /** The first byte past everything carved so far (see place); 0 until the host says. */
  carvedEnd = 0;
  /** The regions carved after init, [start, bytes] each: the core's too. */
  readonly carves: [number, number][] = [];
  shapes: ModelShapes | null = null;
  history: ModelHistory | null = null;
  wide: ModelWide | null = null;

  /**
   * Where init's carve ends (assembly/memory.ts: its depth stack and scratch come last). The
   * model cannot know the static data's size, so the host tells it, from staging_ptr's layout.
   */
  place(carvedEnd: number): void {
    this.carvedEnd = carvedEnd;
  }

  /** init: ALREADY_INIT, or what initOutcome says. Throws for a size it cannot decide. */
  init(maxConnsRaw: number, outRaw: number, stagingRaw: number, keepAliveMs: number): number {
    if (this.ready) return ALREADY_INIT;
    const status = initOutcome(maxConnsRaw, outRaw, stagingRaw, keepAliveMs);
    if (status === undefined) throw new Error(`model cannot tell whether init(${maxConnsRaw}, ${outRaw}, ${stagingRaw}) fits`);
    if (status < 0) return status;
    const maxConns = toI32(maxConnsRaw);
    const outBytes = toI32(outRaw);
    const stagingBytes = toI32(stagingRaw);
    this.ready = true;
    this.config = { maxConns, outBytes, stagingBytes, keepAliveMs };
    this.slots = new Array<ModelConn | null>(maxConns).fill(null);
    this.gens = new Array<number>(maxConns).fill(1);
    return 0;
  }

  /** The open connection a handle names, or undefined (never opened, closed, older generation). */
  lookup(handleRaw: number): ModelConn | undefined {
    const handle = toI32(handleRaw);
    const slot = handle & 0xffff;
    if (handle <= 0 || slot >= this.config.maxConns) return undefined;
    const c = this.slots[slot];
    return c && c.handle === handle ? c : undefined;
  }

  /** What a call on a handle answers before its own work: NOT_INIT, UNKNOWN_CONN, or the connection. */
  target(handle: number): ModelConn | number {
    if (!this.ready) return NOT_INIT;
    return this.lookup(handle) ?? UNKNOWN_CONN;
  }

  /** conn_open's refusal, or 0 when a fresh handle is due (the engine picks the free slot: see adopt). */
  openStatus(lastIdLenRaw: number, staging: Uint8Array): number {
    if (!this.ready) return NOT_INIT;
    const n = toI32(lastIdLenRaw);
    if (n < -1 || n > this.config.stagingBytes) return BAD_ARG;
    if (n >= 0) {
      if (hasBreak(staging, 0, n, true)) return ID;
      if (n > ID_MAX) return ID_TOO_LONG;
    }
    return this.openCount === this.config.maxConns ? CAPACITY : 0;
  }

  /**
   * Takes the handle conn_open returned after openStatus said 0; a message if it is not a
   * fresh handle: a free slot's current generation.
   */
  adopt(handle: number, lastIdLenRaw: number, staging: Uint8Array): string | undefined {
    const slot = handle & 0xffff;
    if (!Number.isInteger(handle) || handle <= 0 || slot >= this.config.maxConns) return `handle ${handle} names no slot`;
    if (this.slots[slot]) return `handle ${handle} reuses open slot ${slot}`;
    if (handle >>> 16 !== this.gens[slot]) return `handle ${handle} has generation ${handle >>> 16}, slot ${slot} is at ${this.gens[slot]}`;
    const { keepAliveMs, outBytes } = this.config;
    const c = new ModelConn(handle, slot, outBytes, keepAliveMs > 0 ? this.now + keepAliveMs : Infinity);
    const n = toI32(lastIdLenRaw);
    if (n >= 0) c.lastId = copy(staging, 0, n);
    this.slots[slot] = c;
    this.openCount++;
    return undefined;
  }

  close(handle: number): number {
    const c = this.target(handle);
    if (typeof c === "number") return c;
    // Closing drops the pending bytes, and with them the wide region if they were there.
    if (this.wide?.owner === c) {
      this.wide.owner = null;
      this.wide.releasedByClose++;
    }
    this.slots[c.slot] = null;
    // Generations run 1..32767 so handles stay positive i32s.
    if (this.gens[c.slot] === 0x7fff) this.wraps++;
    this.gens[c.slot] = this.gens[c.slot] === 0x7fff ? 1 : this.gens[c.slot]! + 1;
    this.openCount--;
    return 0;
  }

  state(handle: number): number {
    const c = this.target(handle);
    return typeof c === "number" ? c : 1;
  }

  stat(handle: number, which: number): number {
    const c = this.target(handle);
    return typeof c === "number" ? NaN : c.stat(toI32(which));
  }

  lastIdLen(handle: number): number {
    const c = this.target(handle);
    return typeof c === "number" ? c : c.lastId?.length ?? 0;
  }

  outLen(handle: number): number {
    const c = this.target(handle);
    return typeof c === "number" ? c : c.len;
  }

  send(handle: number, flagsRaw: number, evRaw: number, idRaw: number, dataRaw: number, retry: number, staging: Uint8Array): number {
    const c = this.target(handle);
    if (typeof c === "number") return c;
    const flags = toI32(flagsRaw);
    if (flags & ~ALL_FLAGS) return BAD_ARG;
    const ev = toI32(evRaw);
    const id = toI32(idRaw);
    const data = toI32(dataRaw);
    // The length of a field the flags leave out must be 0 (ABI 5).
    if ((!(flags & HAS_EVENT) && ev !== 0) || (!(flags & HAS_ID) && id !== 0) || (flags & NO_DATA && data !== 0)) return BAD_ARG;
    const cap = this.config.stagingBytes;
    if (ev < 0 || id < 0 || data < 0 || ev > cap || id > cap - ev || data > cap - ev - id) return BAD_ARG;
    if (flags & HAS_EVENT && hasBreak(staging, 0, ev, false)) return EVENT_NAME;
    if (flags & HAS_ID) {
      if (hasBreak(staging, ev, ev + id, true)) return ID;
      if (id > ID_MAX) return ID_TOO_LONG;
    }
    if (flags & HAS_RETRY && !validRetry(retry)) return RETRY;
    // RECORD keeps the frame under its id: it needs an id, and a history to keep it in.
    if (flags & RECORD && (!(flags & HAS_ID) || !this.history)) return BAD_ARG;

    const w = this.frame;
    w.reset();
    if (flags & HAS_EVENT) {
      w.ascii("event: ");
      w.bytes(staging, 0, ev);
      w.byte(LF);
    }
    if (flags & HAS_ID) {
      w.ascii("id: ");
      w.bytes(staging, ev, ev + id);
      w.byte(LF);
    }
    if (flags & HAS_RETRY) w.ascii(`retry: ${String(retry)}\n`);
    const dataAt = ev + id;
    if (flags & NO_DATA) {
      // fields only
    } else if (flags & DATA_JSON) {
      w.ascii("data: ");
      if (!tapeToJson(staging, dataAt, dataAt + data, w, this.shapes?.keys)) return BAD_TAPE;
      w.byte(LF);
    } else {
      lines(w, "data: ", staging, dataAt, dataAt + data);
    }
    w.byte(LF);
    const status = this.commit(c, true);
    if (status < 0) return status;
    if (flags & HAS_ID) c.lastId = copy(staging, ev, ev + id);
    if (flags & HAS_RETRY) c.retry = retry;
    // Only a frame that was framed is kept; the bytes are the frame's, as the peer gets them.
    if (flags & RECORD) this.history!.record(copy(staging, ev, ev + id), w.buf.slice(0, w.len));
    return status;
  }

  comment(handle: number, lenRaw: number, staging: Uint8Array): number {
    const c = this.target(handle);
    if (typeof c === "number") return c;
    const len = toI32(lenRaw);
    if (len < 0 || len > this.config.stagingBytes) return BAD_ARG;
    this.frame.reset();
    lines(this.frame, ": ", staging, 0, len);
    return this.commit(c, false);
  }

  consume(handle: number, nRaw: number): number {
    const c = this.target(handle);
    if (typeof c === "number") return c;
    const n = toI32(nRaw);
    if (n < 0 || n > c.len) return BAD_ARG;
    c.pending.copyWithin(0, n, c.len);
    c.len -= n;
    c.drained += n;
    // The last pending byte consumed gives the wide region back (a partial consume does not).
    if (c.len === 0 && this.wide?.owner === c) {
      this.wide.owner = null;
      this.wide.releasedByConsume++;
    }
    return 0;
  }

  tick(nowMs: number): number {
    if (!this.ready) return NOT_INIT;
    if (!(nowMs >= 0 && nowMs < Infinity)) return BAD_ARG;
    this.now = nowMs;
    this.due = [];
    const { keepAliveMs } = this.config;
    if (!(keepAliveMs > 0)) return 0;
    for (const c of this.slots) {
      if (!c || !(c.deadline <= nowMs)) continue;
      // A keep-alive `:\n`, unless the space it holds (its own or the wide region) is full: a
      // peer that is not reading needs no more. A keep-alive never borrows the wide region.
      c.deadline = nowMs + keepAliveMs;
      // Only a connection that got it is listed.
      if (c.len + 2 > this.room(c)) continue;
      c.append(KEEP_ALIVE, 2);
      this.due.push(c.handle);
    }
    return this.due.length;
  }

  /**
   * history_init and shape_init: each carves an index (or table) and then its bytes, each from
   * the next 16-byte boundary past everything carved. Throws for a size that may not fit.
   */
  configure(kind: "history" | "shape", countRaw: number, bytesRaw: number): number {
    if (!this.ready) return NOT_INIT;
    if (kind === "history" ? this.history : this.shapes) return ALREADY_INIT;
    const count = toI32(countRaw);
    const bytes = toI32(bytesRaw);
    const maxCount = kind === "history" ? MAX_HISTORY_EVENTS : MAX_SHAPES;
    if (count < 1 || count > maxCount || bytes < MIN_REGION || bytes > MAX_REGION) return BAD_ARG;
    const indexAt = align16(this.carvedEnd);
    const indexBytes = count * (kind === "history" ? HISTORY_ENTRY : SHAPE_ENTRY);
    const bytesAt = align16(indexAt + indexBytes);
    if (this.carvedEnd === 0 || bytesAt + bytes > SURELY_FITS) {
      throw new Error(`the model cannot tell whether ${kind}_init(${count}, ${bytes}) fits after ${this.carvedEnd}`);
    }
    this.carves.push([indexAt, indexBytes], [bytesAt, bytes]);
    this.carvedEnd = bytesAt + bytes;
    if (kind === "history") this.history = new ModelHistory(count, bytes, indexAt, bytesAt);
    else this.shapes = new ModelShapes(count, bytes, indexAt, bytesAt);
    return 0;
  }

  /**
   * What wide_init answers: NOT_INIT, ALREADY_INIT, BAD_ARG (not more than outBytes, or past
   * MAX_REGION), NO_MEMORY (past the address limit whatever memory the host has), 0 for a
   * region that surely fits, or undefined where the model cannot tell.
   */
  wideStatus(bytesRaw: number): number | undefined {
    if (!this.ready) return NOT_INIT;
    if (this.wide) return ALREADY_INIT;
    const bytes = toI32(bytesRaw);
    if (bytes <= this.config.outBytes || bytes > MAX_REGION) return BAD_ARG;
    if (this.carvedEnd === 0) return undefined;
    // One carve, so a refusal carves nothing (unlike history_init and shape_init's two).
    const end = align16(this.carvedEnd) + bytes;
    if (end > ADDRESS_LIMIT) return NO_MEMORY;
    return end <= SURELY_FITS ? 0 : undefined;
  }

  /** wide_init: the region goes at the next 16-byte boundary past everything carved. Throws for a size wideStatus cannot decide. */
  wideInit(bytesRaw: number): number {
    const status = this.wideStatus(bytesRaw);
    if (status === undefined) throw new Error(`the model cannot tell whether wide_init(${bytesRaw}) fits after ${this.carvedEnd}`);
    if (status !== 0) return status;
    const at = align16(this.carvedEnd);
    const bytes = toI32(bytesRaw);
    this.wide = new ModelWide(at, bytes);
    this.carves.push([at, bytes]);
    this.carvedEnd = at + bytes;
    return 0;
  }

  /** The size of the space the connection's pending bytes are in: the wide region while it holds it, else its own. */
  room(c: ModelConn): number {
    return this.wide?.owner === c ? this.wide.bytes : this.config.outBytes;
  }

  historyCount(): number {
    return this.ready ? this.history?.entries.length ?? 0 : NOT_INIT;
  }

  historyFind(idLenRaw: number, staging: Uint8Array): number {
    if (!this.ready) return NOT_INIT;
    const n = toI32(idLenRaw);
    if (n < 0 || n > this.config.stagingBytes) return BAD_ARG;
    const at = this.history?.find(staging.subarray(0, n)) ?? -1;
    return at < 0 ? ID_UNKNOWN : at;
  }

  /** history_ptr and history_len: positions run 0 (oldest) to history_count - 1. */
  historyAt(iRaw: number, what: "ptr" | "len"): number {
    if (!this.ready) return NOT_INIT;
    const i = toI32(iRaw);
    const h = this.history;
    if (!h || i < 0 || i >= h.entries.length) return BAD_ARG;
    return what === "ptr" ? h.framePtr(i) : h.entries[i]!.frame.length;
  }

  shapeDefine(atRaw: number, lenRaw: number, staging: Uint8Array): number {
    if (!this.ready) return NOT_INIT;
    if (!this.shapes) return BAD_ARG;
    const at = toI32(atRaw);
    const len = toI32(lenRaw);
    const cap = this.config.stagingBytes;
    if (at < 0 || len < 0 || at > cap || len > cap - at) return BAD_ARG;
    return this.shapes.define(staging, at, at + len);
  }

  openCountResult(): number {
    return this.ready ? this.openCount : NOT_INIT;
  }

  stagingCap(): number {
    return this.ready ? this.config.stagingBytes : NOT_INIT;
  }

  nextDeadline(): number {
    if (!this.ready) return NOT_INIT;
    let best = Infinity;
    for (const c of this.slots) if (c) best = Math.min(best, c.deadline);
    return best;
  }

  /**
   * Appends the frame in `this.frame` whole, or says why it cannot. A frame the space the
   * connection holds cannot take borrows the wide region when the connection has nothing
   * pending (its bytes stay one run, in order), no one holds it, and the frame fits it.
   * Otherwise it can never fit (TOO_LARGE: larger than outBytes and than the region, 0 bytes
   * without one) or not now (NO_SPACE).
   */
  private commit(c: ModelConn, isEvent: boolean): number {
    const n = this.frame.len;
    const { outBytes, keepAliveMs } = this.config;
    const w = this.wide;
    if (n > this.room(c) - c.len) {
      if (w && w.owner === null && c.len === 0 && n <= w.bytes) {
        w.owner = c;
        w.borrowed++;
      } else {
        if (n > outBytes && n > (w?.bytes ?? 0)) {
          if (w) w.tooLarge++;
          return TOO_LARGE;
        }
        if (w && n > outBytes && n <= w.bytes) {
          if (c.len > 0) w.ownPending++;
          else w.heldByOther++;
        }
        return NO_SPACE;
      }
    }
    c.append(this.frame.buf, n);
    if (isEvent) c.events++;
    // Any bytes restart the keep-alive.
    if (keepAliveMs > 0) c.deadline = this.now + keepAliveMs;
    return n;
  }
}
