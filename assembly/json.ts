// JSON text from a value tape, byte-identical to JSON.stringify (ECMA-262 SerializeJSONValue).
//
// The tape is what the bindings write into staging: one tag byte per item, little-endian.
//   0x00 null   0x01 false   0x02 true   0x03 number: f64
//   0x04 string: u32 byte count, UTF-8 (well-formed)
//   0x05 string: u32 code-unit count, UTF-16 (may hold lone surrogates)
//   0x06 [   0x07 ]   0x08 {   0x09 }
//   0x0A key: as 0x04   0x0B key: as 0x05       (only directly inside an object)
//   0x0C object of a defined shape: u16 shape id, then one item per member: a value, or
//   0x0D skip: the member is left out (its value was undefined, a function or a symbol)
//   0x0E string kept elsewhere in staging: u32 offset from staging's start, u32 byte count,
//        UTF-8 (well-formed). Hosts keep repeated strings there once and send only where.
//   0x0F number: i32 (an integer the host saw fit in 32 bits: 5 bytes, not 9)
//   0x10 skip run: u8 count n ≥ 1, n members of a shaped object left out (at most those left)
// Every item's tape is at most three times the JSON text it stands for with its separator
// (0x0F and 0x10 exist for that: a run of small integers or of skipped members), so a host
// that stages 4 × a frame's bytes can stage any value whose frame fits (README, stagingBytes).
// The bindings resolve what JSON.stringify decides in JS (toJSON, skipped undefined and
// functions, null in arrays, cycles, BigInt); the core checks the tape's shape, so a bad
// tape is refused, never turned into bad JSON.
import * as out from "./out";
import { writeInt, writeNumber } from "./number";
import { depthStack, scratch, staging, stagingCap } from "./memory";
import {
  MAX_DEPTH, TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STR8, TAG_STR16, TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT,
  TAG_OBJECT_END, TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS,
} from "./abi";
import * as shapes from "./shapes";

const NULL_TEXT = memory.data<u8>([0x6E, 0x75, 0x6C, 0x6C]);
const TRUE_TEXT = memory.data<u8>([0x74, 0x72, 0x75, 0x65]);
const FALSE_TEXT = memory.data<u8>([0x66, 0x61, 0x6C, 0x73, 0x65]);
const HEX = memory.data<u8>([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);
/** QuoteJSONString's short escapes by code unit below 0x5D (0 = none): \b \t \n \f \r \" \\. */
const SHORT_ESCAPE = memory.data<u8>([
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x62, 0x74, 0x6E, 0x00, 0x66, 0x72, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5C,
]);

// Containers on the depth stack, 8 bytes a level: kind (u8), members left (u16, shapes
// only), cursor at the next member's key (u32, shapes only).
const IN_ARRAY: u32 = 1;
const IN_OBJECT: u32 = 2;
const IN_SHAPE: u32 = 3;
const LEVEL = 8;

/** Writes the JSON text of the tape [p, end); false if the tape is malformed. */
export function writeJson(p: usize, end: usize): bool {
  let depth = 0;
  let first = true; // no member yet in the innermost container
  let wantValue = false; // a key was just written; its value must follow
  let done = false; // the top-level value is complete
  while (true) {
    // A shape closes itself once its last member is written.
    while (depth > 0 && load<u8>(level(depth)) == IN_SHAPE && load<u16>(level(depth), 2) == 0) {
      out.byte(0x7D);
      depth--;
      first = false;
      done = depth == 0;
    }
    if (p >= end) break;
    if (done) return false;
    const tag = <u32>load<u8>(p++);
    const container = depth > 0 ? <u32>load<u8>(level(depth)) : 0;
    if (tag == TAG_ARRAY_END || tag == TAG_OBJECT_END) {
      if (wantValue || container != (tag == TAG_ARRAY_END ? IN_ARRAY : IN_OBJECT)) return false;
      out.byte(tag == TAG_ARRAY_END ? 0x5D : 0x7D);
      depth--;
      first = false;
      done = depth == 0;
      continue;
    }
    const isKey = tag == TAG_KEY8 || tag == TAG_KEY16;
    if (container == IN_SHAPE) {
      // The member's key comes from the shape; the tape holds its value or a skip.
      if (isKey) return false;
      const at = level(depth);
      let skipped: u32 = tag == TAG_SKIP ? 1 : 0;
      if (tag == TAG_SKIPS) {
        if (p >= end) return false;
        skipped = <u32>load<u8>(p++);
        if (skipped == 0 || skipped > <u32>load<u16>(at, 2)) return false;
      }
      if (skipped > 0) {
        skipMembers(at, skipped);
        continue;
      }
      const key = <usize>load<u32>(at, 4);
      const keyLen = <usize>load<u32>(key);
      store<u32>(at, <u32>(key + 4 + keyLen), 4);
      store<u16>(at, load<u16>(at, 2) - 1, 2);
      if (!first) out.byte(0x2C);
      out.bytes(key + 4, keyLen);
    } else {
      // Inside an object, keys and values alternate; keys appear nowhere else.
      if (container == IN_OBJECT && !wantValue) {
        if (!isKey) return false;
      } else if (isKey) {
        return false;
      }
      if (!first && !wantValue) out.byte(0x2C);
    }
    first = false;
    wantValue = false;
    if (isKey) {
      p = string(p, end, tag == TAG_KEY16);
      if (p == 0) return false;
      out.byte(0x3A);
      wantValue = true;
      continue;
    }
    if (tag == TAG_ARRAY || tag == TAG_OBJECT || tag == TAG_SHAPE) {
      if (depth == MAX_DEPTH) return false;
      const at = level(depth + 1);
      if (tag == TAG_SHAPE) {
        if (end - p < 2) return false;
        const entry = shapes.entry(load<u16>(p));
        if (entry == 0) return false;
        p += 2;
        store<u8>(at, IN_SHAPE);
        store<u16>(at, <u16>load<u32>(entry), 2);
        store<u32>(at, <u32>(entry + 4), 4);
      } else {
        store<u8>(at, tag == TAG_ARRAY ? IN_ARRAY : IN_OBJECT);
      }
      depth++;
      first = true;
      out.byte(tag == TAG_ARRAY ? 0x5B : 0x7B);
      continue;
    }
    if (tag == TAG_NULL) {
      out.bytes(NULL_TEXT, 4);
    } else if (tag == TAG_FALSE) {
      out.bytes(FALSE_TEXT, 5);
    } else if (tag == TAG_TRUE) {
      out.bytes(TRUE_TEXT, 4);
    } else if (tag == TAG_NUMBER) {
      if (end - p < 8) return false;
      number(load<f64>(p));
      p += 8;
    } else if (tag == TAG_INT32) {
      if (end - p < 4) return false;
      if (out.room() >= 11) out.advance(writeInt(out.cursor(), load<i32>(p)));
      else out.bytes(scratch, writeInt(scratch, load<i32>(p)));
      p += 4;
    } else if (tag == TAG_STR8 || tag == TAG_STR16) {
      p = string(p, end, tag == TAG_STR16);
      if (p == 0) return false;
    } else if (tag == TAG_STR_AT) {
      const text = stagedText(p, end);
      if (text == 0) return false;
      out.byte(0x22);
      utf8Body(text, text + <usize>load<u32>(p, 4));
      out.byte(0x22);
      p += 8;
    } else {
      return false;
    }
    done = depth == 0;
  }
  return done;
}

/**
 * The common payload, a flat object: an object of a defined shape whose members are numbers,
 * literals and UTF-8 strings that need no escaping. It is written with a local cursor and
 * one room check per member instead of writeJson's container machine (which keeps its
 * cursor in globals and checks every byte): about half the time. Returns the tape position
 * after the object, or 0 having committed nothing (any other tape, or too little room); the
 * caller then runs writeJson, which writes the same text. Locals are kept few: this is on
 * the deepest call chain wasm3 runs (see README, Limits).
 */
export function flatObject(p: usize, end: usize): usize {
  if (end - p < 3 || <u32>load<u8>(p) != TAG_SHAPE) return 0;
  let key = shapes.entry(load<u16>(p, 1));
  if (key == 0) return 0;
  p += 3;
  let n = load<u32>(key);
  key += 4;
  let d = out.cursor();
  const limit = d + out.room();
  if (d == limit) return 0;
  store<u8>(d++, 0x7B);
  for (; n > 0; n--) {
    if (p >= end) return 0;
    const tag = <u32>load<u8>(p++);
    const keyLen = <usize>load<u32>(key);
    key += 4 + keyLen;
    if (tag == TAG_SKIP) continue;
    if (tag == TAG_SKIPS) {
      // This member and count - 1 more are left out.
      if (p >= end) return 0;
      let count = <u32>load<u8>(p++);
      if (count == 0 || count > n) return 0;
      for (; count > 1; count--, n--) key += 4 + <usize>load<u32>(key);
      continue;
    }
    // A comma, the key, and up to 25 bytes of number or literal.
    if (limit - d < keyLen + 26) return 0;
    if (d != out.cursor() + 1) store<u8>(d++, 0x2C);
    out.copy(d, key - keyLen, keyLen);
    d += keyLen;
    if (tag == TAG_NUMBER) {
      if (end - p < 8) return 0;
      d += isFinite(load<f64>(p)) ? writeNumber(d, load<f64>(p)) : literal(d, NULL_TEXT, 4);
      p += 8;
    } else if (tag == TAG_INT32) {
      if (end - p < 4) return 0;
      d += writeInt(d, load<i32>(p));
      p += 4;
    } else if (tag == TAG_STR8 || tag == TAG_STR_AT) {
      // The text follows its count, or (0x0E) is elsewhere in staging.
      let text: usize, len: usize;
      if (tag == TAG_STR8) {
        if (end - p < 4) return 0;
        len = <usize>load<u32>(p);
        text = p + 4;
        if (len > end - text) return 0;
        p = text + len;
      } else {
        text = stagedText(p, end);
        if (text == 0) return 0;
        len = <usize>load<u32>(p, 4);
        p += 8;
      }
      if (limit - d < len + 2 || !plainText(text, text + len)) return 0;
      store<u8>(d, 0x22);
      out.copy(d + 1, text, len);
      store<u8>(d + 1 + len, 0x22);
      d += len + 2;
    } else if (tag == TAG_NULL) {
      d += literal(d, NULL_TEXT, 4);
    } else if (tag == TAG_TRUE) {
      d += literal(d, TRUE_TEXT, 4);
    } else if (tag == TAG_FALSE) {
      d += literal(d, FALSE_TEXT, 5);
    } else {
      return 0; // a nested value, UTF-16 text, or a malformed tape
    }
  }
  if (d == limit) return 0;
  store<u8>(d++, 0x7D);
  out.advance(d - out.cursor());
  return p;
}

/**
 * Where the text of a 0x0E string is (p: its offset and count, inside [p, end)); 0 if the
 * tape is cut short there or the text is not all inside staging.
 */
function stagedText(p: usize, end: usize): usize {
  if (end - p < 8) return 0;
  const at = load<u32>(p);
  return at <= stagingCap && load<u32>(p, 4) <= stagingCap - at ? staging + <usize>at : 0;
}

/** Copies the n-byte literal `text` to d; returns n. */
// @ts-ignore: decorator
@inline function literal(d: usize, text: usize, n: usize): usize {
  out.copy(d, text, n);
  return n;
}

/** Whether UTF-8 text [p, end) goes into JSON as it is (no byte needs escaping). */
function plainText(p: usize, end: usize): bool {
  while (p + 8 <= end && !needsEscape(load<u64>(p))) p += 8;
  for (; p < end; p++) {
    const c = <u32>load<u8>(p);
    if (mustEscape(c)) return false;
  }
  return true;
}

/** Moves the shaped object at depth-stack entry `at` past `count` members (count ≤ those left). */
function skipMembers(at: usize, count: u32): void {
  let key = <usize>load<u32>(at, 4);
  for (let i: u32 = 0; i < count; i++) key += 4 + <usize>load<u32>(key);
  store<u32>(at, <u32>key, 4);
  store<u16>(at, load<u16>(at, 2) - <u16>count, 2);
}

/** The depth stack's entry for the container at `depth` (1: outermost). */
function level(depth: i32): usize {
  return depthStack + <usize>(depth - 1) * LEVEL;
}

/**
 * Renders a key list [p, end) — u32 count, then per key a tape string (tag 0x04/0x05 or
 * 0x0A/0x0B, count, bytes) — as a shape entry through out.ts; false if malformed.
 */
export function writeShape(p: usize, end: usize): bool {
  if (end - p < 4) return false;
  const n = load<u32>(p);
  p += 4;
  if (n > 0xFFFF) return false;
  out.bytes(p - 4, 4);
  for (let i: u32 = 0; i < n; i++) {
    if (p >= end) return false;
    const tag = <u32>load<u8>(p++);
    if (tag != TAG_KEY8 && tag != TAG_KEY16 && tag != TAG_STR8 && tag != TAG_STR16) return false;
    const lengthAt = out.cursor();
    out.bytes(p, 4); // a placeholder, overwritten below once the length is known
    const start = out.needed();
    p = string(p, end, tag == TAG_KEY16 || tag == TAG_STR16);
    if (p == 0) return false;
    out.byte(0x3A);
    if (out.fits()) store<u32>(lengthAt, out.needed() - start);
  }
  return p == end;
}

/** SerializeJSONValue for a Number: finite → Number::toString, otherwise "null". */
function number(x: f64): void {
  if (!isFinite(x)) {
    out.bytes(NULL_TEXT, 4);
  } else if (out.room() >= 25) {
    out.advance(writeNumber(out.cursor(), x));
  } else {
    out.bytes(scratch, writeNumber(scratch, x));
  }
}

/** A quoted string from the tape at p (after the tag); the position after it, or 0 if truncated. */
function string(p: usize, end: usize, utf16: bool): usize {
  if (end - p < 4) return 0;
  const count = <usize>load<u32>(p);
  p += 4;
  const size = utf16 ? count << 1 : count;
  if (count > end - p || size > end - p) return 0;
  out.byte(0x22);
  if (utf16) utf16Body(p, p + size);
  else utf8Body(p, p + size);
  out.byte(0x22);
  return p + size;
}

/** UTF-8 text: only ASCII controls, '"' and '\' change; runs between them are copied whole. */
function utf8Body(p: usize, end: usize): void {
  let run = p;
  // Eight bytes at a time while none needs escaping (bytes of multi-byte UTF-8 never do).
  while (p + 8 <= end && !needsEscape(load<u64>(p))) p += 8;
  while (p < end) {
    const c = <u32>load<u8>(p);
    if (mustEscape(c)) {
      out.bytes(run, p - run);
      escape(c);
      run = p + 1;
    }
    p++;
  }
  out.bytes(run, p - run);
}

/** Whether QuoteJSONString escapes this ASCII code unit: a control, '"' or '\'. */
// @ts-ignore: decorator
@inline function mustEscape(c: u32): bool {
  return c < 0x20 || c == 0x22 || c == 0x5C;
}

/** Whether any byte of w is below 0x20, '"' or '\' (has-zero-byte tests, exact for w's high bit clear per byte). */
// @ts-ignore: decorator
@inline function needsEscape(w: u64): bool {
  const ones: u64 = 0x0101010101010101;
  const highs: u64 = 0x8080808080808080;
  const quote = w ^ 0x2222222222222222;
  const slash = w ^ 0x5C5C5C5C5C5C5C5C;
  const control = (w - 0x2020202020202020) & ~w;
  return ((((quote - ones) & ~quote) | ((slash - ones) & ~slash) | control) & highs) != 0;
}

/** UTF-16 text, encoded to UTF-8; a lone surrogate becomes \uXXXX (well-formed JSON.stringify). */
function utf16Body(p: usize, end: usize): void {
  while (p < end) {
    const c = <u32>load<u16>(p);
    p += 2;
    if (c < 0x80) {
      if (mustEscape(c)) escape(c);
      else out.byte(c);
    } else if (c < 0x800) {
      out.pair(0xC0 | (c >> 6), 0x80 | (c & 0x3F));
    } else if (c < 0xD800 || c > 0xDFFF) {
      out.byte(0xE0 | (c >> 12));
      out.pair(0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F));
    } else {
      const next = p < end ? <u32>load<u16>(p) : 0;
      if (c <= 0xDBFF && next >= 0xDC00 && next <= 0xDFFF) {
        const cp = 0x10000 + ((c - 0xD800) << 10) + (next - 0xDC00);
        p += 2;
        out.pair(0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F));
        out.pair(0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F));
      } else {
        unicodeEscape(c);
      }
    }
  }
}

function escape(c: u32): void {
  const short = <u32>load<u8>(SHORT_ESCAPE + c);
  if (short != 0) out.pair(0x5C, short);
  else unicodeEscape(c);
}

/** \u followed by four lowercase hex digits, as JSON.stringify writes them. */
function unicodeEscape(c: u32): void {
  out.pair(0x5C, 0x75);
  out.pair(load<u8>(HEX + (c >> 12)), load<u8>(HEX + ((c >> 8) & 0xF)));
  out.pair(load<u8>(HEX + ((c >> 4) & 0xF)), load<u8>(HEX + (c & 0xF)));
}
