// Rules
// - A connection is a row in a table fixed at init. A handle is (generation << 16) | index,
//   always positive; closing a row bumps its generation, so a stale handle can never reach
//   the connection that reuses the row.
// - Each open connection owns `outCap` bytes of outbound space. Its pending bytes are
//   [start, end) of that space; the host drains them (out_ptr/out_len/out_consume, or all
//   at once with out_take) and a frame is appended whole or not at all.
// - A frame larger than a connection's own space may borrow the engine's one wide region
//   (wide_init): only while the connection has no pending bytes (so they stay one run, in
//   order), and only while no other connection holds it. It goes back when its pending bytes
//   are all consumed, or the connection closes. So per-connection space can be small and a
//   whole engine still frames any event up to the wide region's size, one stream at a time.
// - Opening takes a free row in O(1) (a free list); closing drops the pending bytes.
// - Time is only what tick() said last; a connection with keep-alive due at or before that
//   time gets a keep-alive comment at the next tick.
import { connTable, outArena, outCap, maxConns, wideArena, wideCap } from "./memory";
import {
  ID_MAX, STAT_EVENTS, STAT_BYTES_FRAMED, STAT_BYTES_DRAINED, STAT_PENDING, STAT_RETRY, STAT_DEADLINE, STAT_HAS_LAST_ID,
} from "./abi";

// Row layout.
const GEN = 0; // u16
const STATE = 2; // u8
const WIDE = 3; // u8, 1 while the pending bytes live in the wide region
const OUT_START = 4; // u32
const OUT_END = 8; // u32
const NEXT_FREE = 12; // i32, -1 ends the free list
const LAST_ID_LEN = 16; // i32, -1: no Last-Event-ID
const INDEX = 20; // u32, the row's own index
const EVENTS = 24; // f64 counters: exact to 2^53, and scalar for every host
const BYTES_FRAMED = 32;
const BYTES_DRAINED = 40;
const RETRY = 48; // f64, -1: none sent
const DEADLINE = 56; // f64 ms, Infinity: keep-alive off
const LAST_ID = 64;

/** Room for the longest id (and Last-Event-ID) a connection remembers. */
export const ROW_BYTES: u32 = LAST_ID + <u32>ID_MAX;

export const STATE_FREE: u8 = 0;
export const STATE_OPEN: u8 = 1;

let freeHead: i32 = -1;
/** The row holding the wide region, or 0. */
let wideOwner: usize = 0;
let openCount: i32 = 0;
let keepAliveMs: f64 = 0;
let now: f64 = 0;

function rowAt(index: i32): usize {
  return connTable + <usize>index * ROW_BYTES;
}

/** Called once by init, after memory is carved. */
export function setup(keepAlive: f64): void {
  keepAliveMs = keepAlive;
  for (let s = 0; s < maxConns; s++) {
    const r = rowAt(s);
    store<u16>(r + GEN, 1);
    store<u32>(r + INDEX, s);
    store<u8>(r + STATE, STATE_FREE);
    store<i32>(r + NEXT_FREE, s + 1 < maxConns ? s + 1 : -1);
  }
  freeHead = maxConns > 0 ? 0 : -1;
}

/** The row of an open connection, or 0. */
export function lookup(handle: i32): usize {
  const index = handle & 0xFFFF;
  if (handle <= 0 || index >= maxConns) return 0;
  const r = rowAt(index);
  if (load<u8>(r + STATE) != STATE_OPEN || <i32>load<u16>(r + GEN) != handle >>> 16) return 0;
  return r;
}

/** A handle for a fresh connection, or -1 if every index is in use. */
export function open(): i32 {
  if (freeHead < 0) return -1;
  const index = freeHead;
  const r = rowAt(index);
  freeHead = load<i32>(r + NEXT_FREE);
  store<u8>(r + STATE, STATE_OPEN);
  store<u8>(r + WIDE, 0);
  store<u32>(r + OUT_START, 0);
  store<u32>(r + OUT_END, 0);
  store<i32>(r + LAST_ID_LEN, -1);
  store<f64>(r + EVENTS, 0);
  store<f64>(r + BYTES_FRAMED, 0);
  store<f64>(r + BYTES_DRAINED, 0);
  store<f64>(r + RETRY, -1);
  store<f64>(r + DEADLINE, keepAliveMs > 0 ? now + keepAliveMs : Infinity);
  openCount++;
  return (<i32>load<u16>(r + GEN) << 16) | index;
}

export function close(r: usize): void {
  if (load<u8>(r + WIDE)) unwiden(r);
  const index = load<i32>(r + INDEX);
  const gen = load<u16>(r + GEN);
  // Generations run 1..32767 so handles stay positive i32.
  store<u16>(r + GEN, gen == 0x7FFF ? 1 : gen + 1);
  store<u8>(r + STATE, STATE_FREE);
  store<i32>(r + NEXT_FREE, freeHead);
  freeHead = index;
  openCount--;
}

export function countOpen(): i32 {
  return openCount;
}

// --- outbound bytes ---

function outBase(r: usize): usize {
  return load<u8>(r + WIDE) ? wideArena : outArena + <usize>load<u32>(r + INDEX) * outCap;
}

/**
 * Gives an empty connection the wide region for a frame of n bytes that does not fit its own
 * space; false if there is none, it is held, n does not fit it either, or bytes are pending.
 */
export function widen(r: usize, n: u32): bool {
  if (wideOwner != 0 || n > wideCap || load<u32>(r + OUT_END) != 0) return false;
  wideOwner = r;
  store<u8>(r + WIDE, 1);
  return true;
}

function unwiden(r: usize): void {
  store<u8>(r + WIDE, 0);
  wideOwner = 0;
}

export function pendingPtr(r: usize): usize {
  return outBase(r) + load<u32>(r + OUT_START);
}

export function pendingLen(r: usize): u32 {
  return load<u32>(r + OUT_END) - load<u32>(r + OUT_START);
}

/** Moves pending bytes to the front so the whole free space is one run; returns its start. */
export function freeStart(r: usize): usize {
  const base = outBase(r);
  const start = load<u32>(r + OUT_START);
  if (start != 0) {
    const len = load<u32>(r + OUT_END) - start;
    memory.copy(base, base + start, len);
    store<u32>(r + OUT_START, 0);
    store<u32>(r + OUT_END, len);
  }
  return base + load<u32>(r + OUT_END);
}

export function freeEnd(r: usize): usize {
  return outBase(r) + (load<u8>(r + WIDE) ? wideCap : outCap);
}

/** Counts a frame of n bytes written at freeStart(r). */
export function commit(r: usize, n: u32, isEvent: bool): void {
  store<u32>(r + OUT_END, load<u32>(r + OUT_END) + n);
  store<f64>(r + BYTES_FRAMED, load<f64>(r + BYTES_FRAMED) + n);
  if (isEvent) store<f64>(r + EVENTS, load<f64>(r + EVENTS) + 1);
  touch(r);
}

/** Any bytes keep the peer and proxies awake: the keep-alive restarts. */
export function touch(r: usize): void {
  if (keepAliveMs > 0) store<f64>(r + DEADLINE, now + keepAliveMs);
}

export function consume(r: usize, n: u32): void {
  const start = load<u32>(r + OUT_START) + n;
  if (start == load<u32>(r + OUT_END)) {
    store<u32>(r + OUT_START, 0);
    store<u32>(r + OUT_END, 0);
    if (load<u8>(r + WIDE)) unwiden(r);
  } else {
    store<u32>(r + OUT_START, start);
  }
  store<f64>(r + BYTES_DRAINED, load<f64>(r + BYTES_DRAINED) + n);
}

/** Where take() leaves the count of the bytes it took (a u32). */
export const TAKEN: usize = memory.data(4);

/** Consumes every pending byte; returns where they are (until this space is framed into again), their count at TAKEN. */
export function take(r: usize): usize {
  const ptr = pendingPtr(r);
  const n = pendingLen(r);
  consume(r, n);
  store<u32>(TAKEN, n);
  return ptr;
}

// --- remembered fields ---

export function setLastId(r: usize, src: usize, n: u32): void {
  memory.copy(r + LAST_ID, src, n);
  store<i32>(r + LAST_ID_LEN, n);
}

export function lastIdPtr(r: usize): usize {
  return r + LAST_ID;
}

/** 0 when there is none: conn_stat tells the two apart. */
export function lastIdLen(r: usize): i32 {
  return max(load<i32>(r + LAST_ID_LEN), 0);
}

export function setRetry(r: usize, ms: f64): void {
  store<f64>(r + RETRY, ms);
}

/** A statistic by the ABI's conn_stat index, or NaN for an unknown index. */
export function stat(r: usize, which: i32): f64 {
  switch (which) {
    case STAT_EVENTS: return load<f64>(r + EVENTS);
    case STAT_BYTES_FRAMED: return load<f64>(r + BYTES_FRAMED);
    case STAT_BYTES_DRAINED: return load<f64>(r + BYTES_DRAINED);
    case STAT_PENDING: return <f64>pendingLen(r);
    case STAT_RETRY: return load<f64>(r + RETRY);
    case STAT_DEADLINE: return load<f64>(r + DEADLINE);
    case STAT_HAS_LAST_ID: return load<i32>(r + LAST_ID_LEN) >= 0 ? 1 : 0;
    default: return NaN;
  }
}

// --- time ---

export function keepAliveEnabled(): bool {
  return keepAliveMs > 0;
}

export function setNow(t: f64): void {
  now = t;
}

/** The index's row if it is open and its keep-alive is due at `now`, else 0. */
export function dueRow(index: i32): usize {
  const r = rowAt(index);
  return load<u8>(r + STATE) == STATE_OPEN && load<f64>(r + DEADLINE) <= now ? r : 0;
}

export function handleOf(r: usize): i32 {
  return (<i32>load<u16>(r + GEN) << 16) | load<i32>(r + INDEX);
}

/** The earliest keep-alive deadline of any open connection; Infinity if none. */
export function earliestDeadline(): f64 {
  let best = Infinity;
  for (let s = 0; s < maxConns; s++) {
    const r = rowAt(s);
    if (load<u8>(r + STATE) == STATE_OPEN) best = Math.min(best, load<f64>(r + DEADLINE));
  }
  return best;
}
