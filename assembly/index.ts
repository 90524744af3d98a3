// The ABI: the only file that exports. Every export takes and returns i32 or f64; strings
// and payloads travel as bytes in the staging region. README.md ("ABI") documents each call,
// who owns which bytes until when, and the status codes; their numbers are in abi.ts.
import * as memory from "./memory";
import * as conn from "./conn";
import * as frame from "./frame";
import * as out from "./out";
import { flatObject, writeJson, writeShape } from "./json";
import * as shapes from "./shapes";
import * as history from "./history";
import {
  ABI_VERSION, HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, NO_DATA, RECORD, ALL_FLAGS,
  MAX_CONNS, MIN_REGION, MAX_REGION, MIN_STAGING, ID_MAX, MAX_HISTORY_EVENTS, MAX_SHAPES,
  ERR_NOT_INIT, ERR_BAD_ARG, ERR_UNKNOWN_CONN, ERR_CAPACITY, ERR_ALREADY_INIT, ERR_NO_MEMORY,
  ERR_EVENT_NAME, ERR_ID, ERR_RETRY, ERR_TOO_LARGE, ERR_NO_SPACE, ERR_BAD_TAPE, ERR_ID_TOO_LONG, ERR_ID_UNKNOWN,
} from "./abi";

export function abi_version(): i32 {
  return ABI_VERSION;
}

/**
 * Carves all memory: `maxConns` connections with `outBytes` of outbound space each, and
 * `stagingBytes` of staging. Keep-alive comments are due `keepAliveMs` after a connection's
 * last bytes (0: never).
 */
export function init(maxConns: i32, outBytes: i32, stagingBytes: i32, keepAliveMs: f64): i32 {
  if (memory.ready) return ERR_ALREADY_INIT;
  if (maxConns < 1 || maxConns > MAX_CONNS || outBytes < MIN_REGION || outBytes > MAX_REGION ||
      stagingBytes < MIN_STAGING || stagingBytes > MAX_REGION ||
      !(keepAliveMs >= 0 && keepAliveMs < Infinity)) {
    return ERR_BAD_ARG;
  }
  if (!memory.carve(maxConns, conn.ROW_BYTES, outBytes, stagingBytes)) return ERR_NO_MEMORY;
  conn.setup(keepAliveMs);
  return 0;
}

export function staging_ptr(): i32 {
  return memory.ready ? <i32>memory.staging : ERR_NOT_INIT;
}

export function staging_cap(): i32 {
  return memory.ready ? <i32>memory.stagingCap : ERR_NOT_INIT;
}

/** Opens a connection; its Last-Event-ID is staging[0, lastIdLen), or none if lastIdLen is -1. */
export function conn_open(lastIdLen: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (lastIdLen < -1 || lastIdLen > <i32>memory.stagingCap) return ERR_BAD_ARG;
  if (lastIdLen >= 0) {
    if (!frame.validId(memory.staging, lastIdLen)) return ERR_ID;
    if (<u32>lastIdLen > <u32>ID_MAX) return ERR_ID_TOO_LONG;
  }
  const handle = conn.open();
  if (handle < 0) return ERR_CAPACITY;
  if (lastIdLen >= 0) conn.setLastId(conn.lookup(handle), memory.staging, lastIdLen);
  return handle;
}

/** Frees the connection and drops its pending bytes. */
export function conn_close(handle: i32): i32 {
  const r = rowOf(handle);
  if (r <= 0) return <i32>r;
  conn.close(<usize>r);
  return 0;
}

/** 1 while open; an error code otherwise. */
export function conn_state(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : 1;
}

/** A counter (0 events, 1 bytes framed, 2 bytes drained, 3 pending, 4 retry, 5 keep-alive deadline, 6 has a last id). */
export function conn_stat(handle: i32, which: i32): f64 {
  // NaN, not a status code, on misuse: -1 is a valid retry value here.
  const r = rowOf(handle);
  return r <= 0 ? NaN : conn.stat(<usize>r, which);
}

/** The length of the id the client last saw (0 if none: see conn_stat 6); its bytes are at last_id_ptr. */
export function last_id_len(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : conn.lastIdLen(<usize>r);
}

export function last_id_ptr(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : <i32>conn.lastIdPtr(<usize>r);
}

export function open_count(): i32 {
  return memory.ready ? conn.countOpen() : ERR_NOT_INIT;
}

/**
 * Frames one event from staging: the event name, the id and the data, back to back,
 * `eventLen`, `idLen` and `dataLen` bytes long (the length of a field its flags leave out
 * must be 0: eventLen without HAS_EVENT, idLen without HAS_ID, dataLen with NO_DATA). Returns
 * the bytes framed; on any error nothing is written.
 */
export function send(handle: i32, flags: i32, eventLen: i32, idLen: i32, dataLen: i32, retry: f64): i32 {
  const r = rowOf(handle);
  if (r <= 0) return <i32>r;
  if (flags & ~ALL_FLAGS) return ERR_BAD_ARG;
  // A length for an absent field must be 0 (a host's mistake, e.g. staging laid out for other flags).
  if ((flags & HAS_EVENT ? 0 : eventLen) | (flags & HAS_ID ? 0 : idLen) | (flags & NO_DATA ? dataLen : 0)) return ERR_BAD_ARG;
  const ev = eventLen;
  const id = idLen;
  const data = dataLen;
  const cap = <i32>memory.stagingCap;
  if (ev < 0 || id < 0 || data < 0 || ev > cap || id > cap - ev || data > cap - ev - id) return ERR_BAD_ARG;
  const evPtr = memory.staging;
  const idPtr = evPtr + ev;
  const dataPtr = idPtr + id;
  if (flags & HAS_EVENT && !frame.validEventName(evPtr, ev)) return ERR_EVENT_NAME;
  if (flags & HAS_ID) {
    if (!frame.validId(idPtr, id)) return ERR_ID;
    if (<u32>id > <u32>ID_MAX) return ERR_ID_TOO_LONG;
  }
  if (flags & HAS_RETRY && !frame.validRetry(retry)) return ERR_RETRY;
  if (flags & RECORD && (!(flags & HAS_ID) || !history.enabled())) return ERR_BAD_ARG;

  const rec = <usize>r;
  // Framed again, in the wide region, if that may take a frame that did not fit (at most once:
  // the connection then holds it). One call site, so inlining frameEvent duplicates no code.
  let frameAt: usize;
  do frameAt = frameEvent(rec, flags, evPtr, ev, idPtr, id, dataPtr, data, retry);
  while (frameAt != 0 && !out.fits() && conn.widen(rec, out.needed()));
  if (frameAt == 0) return ERR_BAD_TAPE;
  const status = finish(rec);
  if (status < 0) return status;
  if (flags & HAS_ID) conn.setLastId(rec, idPtr, id);
  if (flags & HAS_RETRY) conn.setRetry(rec, retry);
  if (flags & RECORD) history.record(idPtr, id, frameAt, status);
  return status;
}

/**
 * Writes one event's frame at the connection's free space (speculatively, see out.ts); where it
 * starts, or 0 for a bad tape. Inlined: a call frame of its own between send and the JSON writer
 * deepens wasm3's stack past the 2.25 KiB README (Limits) gives the release build.
 */
// @ts-ignore: decorator
@inline function frameEvent(rec: usize, flags: i32, evPtr: usize, ev: i32, idPtr: usize, id: i32, dataPtr: usize, data: i32, retry: f64): usize {
  const frameAt = conn.freeStart(rec);
  out.begin(frameAt, conn.freeEnd(rec));
  if (flags & HAS_EVENT) frame.eventField(evPtr, ev);
  if (flags & HAS_ID) frame.idField(idPtr, id);
  if (flags & HAS_RETRY) frame.retryField(retry);
  if (flags & NO_DATA) {
    // fields only
  } else if (flags & DATA_JSON) {
    frame.dataOpen();
    // A flat object takes the short path; called from here rather than from writeJson, so wasm3
    // never holds both frames at once (README, Limits: the interpreter stack).
    const after = flatObject(dataPtr, dataPtr + data);
    if (after != 0 ? after != dataPtr + data : !writeJson(dataPtr, dataPtr + data)) return 0;
    frame.lineEnd();
  } else {
    frame.dataLines(dataPtr, data);
  }
  frame.lineEnd();
  return frameAt;
}

/** Frames a comment from staging[0, len): every line becomes `: line`. */
export function comment(handle: i32, len: i32): i32 {
  const r = rowOf(handle);
  if (r <= 0) return <i32>r;
  if (len < 0 || len > <i32>memory.stagingCap) return ERR_BAD_ARG;
  // Framed again in the wide region if that may take a comment that did not fit, as in send.
  do {
    out.begin(conn.freeStart(<usize>r), conn.freeEnd(<usize>r));
    frame.commentLines(memory.staging, len);
  } while (!out.fits() && conn.widen(<usize>r, out.needed()));
  return finish(<usize>r, false);
}

/** Where the connection's pending bytes start; valid until the next call into the core. */
export function out_ptr(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : <i32>conn.pendingPtr(<usize>r);
}

export function out_len(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : <i32>conn.pendingLen(<usize>r);
}

/** Marks the first n pending bytes as written to the peer. */
export function out_consume(handle: i32, n: i32): i32 {
  const r = rowOf(handle);
  if (r <= 0) return <i32>r;
  if (n < 0 || <u32>n > conn.pendingLen(<usize>r)) return ERR_BAD_ARG;
  conn.consume(<usize>r, n);
  return 0;
}

/**
 * A drain in one call: takes every pending byte, as out_ptr, out_len and out_consume(len)
 * would. Returns their address (valid until the next call into the core); their count is
 * the u32 at taken_ptr.
 */
export function out_take(handle: i32): i32 {
  const r = rowOf(handle);
  return r <= 0 ? <i32>r : <i32>conn.take(<usize>r);
}

export function taken_ptr(): i32 {
  return memory.ready ? <i32>conn.TAKEN : ERR_NOT_INIT;
}

/**
 * Tells the core the time. Every open connection whose keep-alive is due gets a keep-alive
 * comment (unless its outbound space is full: a peer that is not reading needs no more);
 * their handles are listed at due_ptr. Returns how many.
 */
export function tick(nowMs: f64): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (!(nowMs >= 0 && nowMs < Infinity)) return ERR_BAD_ARG;
  conn.setNow(nowMs);
  if (!conn.keepAliveEnabled()) return 0;
  let due = 0;
  for (let s = 0; s < memory.maxConns; s++) {
    const r = conn.dueRow(s);
    if (r == 0) continue;
    out.begin(conn.freeStart(r), conn.freeEnd(r));
    frame.keepAlive();
    if (!out.fits()) {
      conn.touch(r); // no room: none is sent (its peer is not reading), the next is due an interval from now
      continue;
    }
    conn.commit(r, out.needed(), false);
    store<i32>(memory.dueList + (<usize>due << 2), conn.handleOf(r));
    due++;
  }
  return due;
}

/** Tells the core the time without looking for due keep-alives: O(1), for before each frame. */
export function set_now(nowMs: f64): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (!(nowMs >= 0 && nowMs < Infinity)) return ERR_BAD_ARG;
  conn.setNow(nowMs);
  return 0;
}

/** Restarts the connection's keep-alive, for bytes the host wrote that the core did not frame for it (a broadcast). */
export function conn_touch(handle: i32): i32 {
  const r = rowOf(handle);
  if (r <= 0) return r;
  conn.touch(<usize>r);
  return 0;
}

export function due_ptr(): i32 {
  return memory.ready ? <i32>memory.dueList : ERR_NOT_INIT;
}

/** The earliest time tick() has work to do (Infinity: none). */
export function next_deadline(): f64 {
  return memory.ready ? conn.earliestDeadline() : ERR_NOT_INIT;
}

/**
 * Carves a history of the last `maxEvents` recorded frames, at most `maxBytes` of frames and
 * ids together. Once per engine, as part of its configuration.
 */
export function history_init(maxEvents: i32, maxBytes: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (history.enabled()) return ERR_ALREADY_INIT;
  if (maxEvents < 1 || maxEvents > MAX_HISTORY_EVENTS || maxBytes < MIN_REGION || maxBytes > MAX_REGION) return ERR_BAD_ARG;
  return history.setup(maxEvents, maxBytes) ? 0 : ERR_NO_MEMORY;
}

/** How many frames the history holds (0 without one). */
export function history_count(): i32 {
  return memory.ready ? history.size() : ERR_NOT_INIT;
}

/** The position (0: oldest) of the newest recorded frame with the id staging[0, idLen). */
export function history_find(idLen: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (idLen < 0 || idLen > <i32>memory.stagingCap) return ERR_BAD_ARG;
  const at = history.find(memory.staging, idLen);
  return at < 0 ? ERR_ID_UNKNOWN : at;
}

/** Where the recorded frame at position i starts; valid until the next call. */
export function history_ptr(i: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  return <u32>i < history.size() ? <i32>history.framePtr(i) : ERR_BAD_ARG;
}

export function history_len(i: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  return <u32>i < history.size() ? <i32>history.frameLen(i) : ERR_BAD_ARG;
}

/**
 * Carves the wide region: `bytes` (more than init's outBytes) that one connection at a time
 * may borrow for a frame larger than its own outbound space. Once per engine.
 */
export function wide_init(bytes: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (memory.wideCap != 0) return ERR_ALREADY_INIT;
  if (bytes <= <i32>memory.outCap || bytes > MAX_REGION) return ERR_BAD_ARG;
  return memory.carveWide(bytes) ? 0 : ERR_NO_MEMORY;
}

/**
 * Carves a table of up to `maxShapes` object shapes with `maxBytes` of rendered keys.
 * Once per engine, as part of its configuration.
 */
export function shape_init(maxShapes: i32, maxBytes: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (shapes.enabled()) return ERR_ALREADY_INIT;
  if (maxShapes < 1 || maxShapes > MAX_SHAPES || maxBytes < MIN_REGION || maxBytes > MAX_REGION) return ERR_BAD_ARG;
  return shapes.setup(maxShapes, maxBytes) ? 0 : ERR_NO_MEMORY;
}

/**
 * Defines the object shape whose key list is staging[at, at + len) (u32 count, then each key
 * as a tape string); returns its id for tape tag 0x0C. CAPACITY when the table is full.
 */
export function shape_define(at: i32, len: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  if (!shapes.enabled()) return ERR_BAD_ARG;
  const cap = <i32>memory.stagingCap;
  if (at < 0 || len < 0 || at > cap || len > cap - at) return ERR_BAD_ARG;
  if (shapes.full()) return ERR_CAPACITY;
  const p = memory.staging + at;
  out.begin(shapes.freeStart(), shapes.freeEnd());
  if (!writeShape(p, p + len)) return ERR_BAD_TAPE;
  if (!out.fits()) return ERR_CAPACITY;
  return shapes.commit(out.needed());
}

/** The open connection's row, or an error code (negative). */
function rowOf(handle: i32): i32 {
  if (!memory.ready) return ERR_NOT_INIT;
  const r = conn.lookup(handle);
  // memory.carve keeps every address below 2^31, so a row is a positive i32.
  return r == 0 ? ERR_UNKNOWN_CONN : <i32>r;
}

/** Commits what out.ts holds, or says why it cannot. */
function finish(r: usize, isEvent: bool = true): i32 {
  const n = out.needed();
  if (!out.fits()) return n > memory.outCap && n > memory.wideCap ? ERR_TOO_LARGE : ERR_NO_SPACE;
  conn.commit(r, n, isEvent);
  return <i32>n;
}
