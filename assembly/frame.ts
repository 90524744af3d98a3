// The event-stream writer (WHATWG HTML, "Server-sent events", 9.2.5 and 9.2.6).
// Output is always `name: value` with one space and LF line ends, and every frame
// ends with the blank line that dispatches it. Fields go out in Microdot's order:
// event, id, retry, then data.
import * as out from "./out";

const CR: u32 = 0x0D;
const LF: u32 = 0x0A;
const NUL: u32 = 0x00;
const COLON: u32 = 0x3A;

// "event", "id", "retry", "data" followed by ": ", as little-endian words.
const EVENT_FIELD = memory.data<u8>([0x65, 0x76, 0x65, 0x6E, 0x74, 0x3A, 0x20]);
const ID_FIELD = memory.data<u8>([0x69, 0x64, 0x3A, 0x20]);
const RETRY_FIELD = memory.data<u8>([0x72, 0x65, 0x74, 0x72, 0x79, 0x3A, 0x20]);
const DATA_FIELD = memory.data<u8>([0x64, 0x61, 0x74, 0x61, 0x3A, 0x20]);

/** "The field name must not contain CR or LF": an event type is one line. */
export function validEventName(p: usize, n: usize): bool {
  return findBreak(p, p + n) == p + n;
}

/**
 * An id is one line, and the spec ignores an id field whose value contains NUL
 * ("If the field value does not contain U+0000 NULL, then set the last event ID buffer"),
 * so such an id would be silently lost: refuse it instead.
 */
export function validId(p: usize, n: usize): bool {
  const end = p + n;
  for (let q = p; q < end; q++) {
    const c = <u32>load<u8>(q);
    if (c == CR || c == LF || c == NUL) return false;
  }
  return true;
}

/** retry: "If the field value consists of only ASCII digits": a non-negative integer. */
export function validRetry(ms: f64): bool {
  return ms >= 0 && ms <= 9007199254740991 && ms == Math.floor(ms);
}

export function eventField(p: usize, n: usize): void {
  out.bytes(EVENT_FIELD, 7);
  out.bytes(p, n);
  out.byte(LF);
}

export function idField(p: usize, n: usize): void {
  out.bytes(ID_FIELD, 4);
  out.bytes(p, n);
  out.byte(LF);
}

export function retryField(ms: f64): void {
  out.bytes(RETRY_FIELD, 7);
  integer(<u64>ms);
  out.byte(LF);
}

/** Opens a single data line whose value the caller writes (JSON has no raw line breaks). */
export function dataOpen(): void {
  out.bytes(DATA_FIELD, 6);
}

/** Closes a line, or with nothing open, ends the frame. */
export function lineEnd(): void {
  out.byte(LF);
}

/**
 * Data, one `data: ` line per line of text. "Lines must be separated by either a U+000D CR
 * U+000A LF pair, a single U+000A LF, or a single U+000D CR": each of the three is one
 * break, so no byte of user text can end a line and start a field of its own.
 * Empty lines are kept: "a\n\nb" is three lines, "" is one empty line.
 */
export function dataLines(p: usize, n: usize): void {
  linesWithPrefix(DATA_FIELD, 6, p, n);
}

/** A comment: every line starts with ":" so none of it can be read as a field. */
export function commentLines(p: usize, n: usize): void {
  linesWithPrefix(COMMENT_PREFIX, 2, p, n);
}
const COMMENT_PREFIX = memory.data<u8>([0x3A, 0x20]);

function linesWithPrefix(prefix: usize, prefixLen: usize, p: usize, n: usize): void {
  const end = p + n;
  while (true) {
    const brk = findBreak(p, end);
    out.bytes(prefix, prefixLen);
    out.bytes(p, brk - p);
    out.byte(LF);
    if (brk == end) return;
    p = brk + 1;
    if (load<u8>(brk) == CR && p < end && load<u8>(p) == LF) p++;
  }
}

/** The first CR or LF in [p, end), or end. Scans eight bytes at a time where it can. */
function findBreak(p: usize, end: usize): usize {
  const ones: u64 = 0x0101010101010101;
  const highs: u64 = 0x8080808080808080;
  while (p + 8 <= end) {
    const w = load<u64>(p);
    const a = w ^ 0x0A0A0A0A0A0A0A0A;
    const b = w ^ 0x0D0D0D0D0D0D0D0D;
    // A zero byte in a or b means LF or CR in w (the classic has-zero-byte test).
    if ((((a - ones) & ~a) | ((b - ones) & ~b)) & highs) break;
    p += 8;
  }
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (c == LF || c == CR) return p;
    p++;
  }
  return end;
}

/** A non-negative integer below 2^53 in decimal. */
export function integer(v: u64): void {
  let digits = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  const start = out.cursor();
  if (out.room() >= <usize>digits) {
    let q = start + digits;
    do {
      store<u8>(--q, <u32>(v % 10) + 0x30);
      v /= 10;
    } while (v != 0);
    out.advance(digits);
  } else {
    for (let i = 0; i < digits; i++) out.byte(0x30);
  }
}

/** The keep-alive: a bare comment line, the smallest thing an idle proxy or peer sees. */
export function keepAlive(): void {
  out.byte(COLON);
  out.byte(LF);
}
