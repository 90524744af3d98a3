// sse-wasi.wasm: a WASI preview1 command that turns lines on stdin into an event stream on
// stdout, e.g. `tail -f app.log | wasmtime run sse-wasi.wasm -- --event log`. It is a host of
// the core like any other: one connection, each line staged and framed by the ABI calls,
// the pending bytes written out after every read, so each line leaves as soon as it arrives.
// Networking stays with whoever reads stdout.
import { init, conn_open, send, out_ptr, out_len, out_consume } from "./index";
import { staging } from "./memory";
import { validEventName } from "./frame";
import {
  HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, NO_DATA, ERR_NO_SPACE, TAG_OBJECT, TAG_OBJECT_END, TAG_KEY8, TAG_STR8,
} from "./abi";
import { readSome, writeAll, args, exit, STDIN, STDOUT, STDERR } from "./wasi-sys";
import * as flags from "./wasi-flags";

/** The longest line, without its LF. Longer lines are refused rather than cut. */
const LINE_MAX = 65535;
const EVENT_MAX = 1024;
// A line's JSON escapes can take 6 bytes per byte, its CRs as data-line breaks 7.
const OUT_BYTES = 7 * (LINE_MAX + 1) + 2 * EVENT_MAX;
// Event name, id digits, and the line with the JSON tape's 16 bytes around it; under --json
// each byte of ill-formed UTF-8 may become U+FFFD's 3.
const STAGING_BYTES = EVENT_MAX + 32 + 3 * LINE_MAX + 16;

const EXIT_USAGE = 2;
const EXIT_IO = 74;
const EXIT_DATA = 65;
const EXIT_SOFTWARE = 70;

const LF: u8 = 0x0a;
const CR: u8 = 0x0d;

const input = memory.data(LINE_MAX + 1);
const argvPtrs = memory.data(64 * 4);
const ARGV_BYTES: u32 = 8192;
const argvBuf = memory.data(ARGV_BYTES);
const message = memory.data(256);
/** `{"line":` as a tape: object, key of 4 bytes "line", then a string of the line's length. */
const LINE_KEY = memory.data<u8>([<u8>TAG_OBJECT, <u8>TAG_KEY8, 4, 0, 0, 0, 0x6c, 0x69, 0x6e, 0x65, <u8>TAG_STR8]);

let conn: i32 = 0;
let eventLen: i32 = 0;

run();

function run(): void {
  const argc = args(argvPtrs, 64, argvBuf, ARGV_BYTES);
  if (argc < 0) fail("too many or too long arguments", 0, EXIT_USAGE);
  if (!flags.parse(argvPtrs, argc)) fail(flags.problem, flags.problemArg, EXIT_USAGE);
  if (flags.help) {
    say(STDOUT, "usage: sse-wasi [--event NAME] [--json] [--id-start N] [--retry MS] < lines > event-stream\n");
    return;
  }
  if (flags.eventLen > EVENT_MAX || flags.eventLen >= 0 && !validEventName(flags.eventPtr, flags.eventLen)) {
    fail("an event name is one line of at most 1024 bytes:", flags.eventPtr, EXIT_USAGE);
  }
  if (init(1, OUT_BYTES, STAGING_BYTES, 0) != 0) fail("not enough memory", 0, EXIT_SOFTWARE);
  conn = conn_open(-1);
  if (flags.eventLen >= 0) {
    // The core never writes staging, so the name staged once stays for every event.
    eventLen = flags.eventLen;
    memory.copy(staging, flags.eventPtr, eventLen);
  }
  if (flags.retry >= 0) {
    frame(NO_DATA | HAS_RETRY, 0, 0, 0, flags.retry);
    flush();
  }
  let have = 0;
  while (true) {
    const n = readSome(STDIN, input + have, LINE_MAX + 1 - have);
    if (n < 0) fail("cannot read standard input", 0, EXIT_IO);
    if (n == 0) break;
    const end = have + n;
    let start = 0;
    for (let i = have; i < end; i++) {
      if (load<u8>(input + i) != LF) continue;
      line(input + start, i - start);
      start = i + 1;
    }
    have = end - start;
    flush();
    if (have > LINE_MAX) fail("a line is longer than 65535 bytes", 0, EXIT_DATA);
    memory.copy(input, input + start, have);
  }
  // A last line without its LF is still a line.
  if (have > 0) line(input, have);
  flush();
}

/** Stages one line (without a trailing CR) after the event name, with its id, and frames it. */
function line(p: usize, n: i32): void {
  if (n > 0 && load<u8>(p + n - 1) == CR) n--;
  let at = staging + eventLen;
  let idLen = 0;
  if (flags.hasId) {
    idLen = digits(at, flags.nextId++);
    at += idLen;
  }
  let dataLen = n;
  if (flags.json) {
    // A tape string is well-formed UTF-8, so JSON text is too: {"line": TextDecoder's reading}.
    memory.copy(at, LINE_KEY, 11);
    n = wellFormed(at + 15, p, n);
    store<u32>(at + 11, n);
    store<u8>(at + 15 + n, TAG_OBJECT_END);
    dataLen = n + 16;
  } else {
    memory.copy(at, p, n);
  }
  const f = (flags.eventLen >= 0 ? HAS_EVENT : 0) | (flags.hasId ? HAS_ID : 0) | (flags.json ? DATA_JSON : 0);
  frame(f, eventLen, idLen, dataLen, 0);
}

/**
 * Copies the UTF-8 text [p, p + n) to q with each maximal ill-formed subsequence replaced by
 * U+FFFD, as TextDecoder (WHATWG Encoding) decodes it; returns the bytes written (at most 3n).
 */
function wellFormed(q: usize, p: usize, n: i32): i32 {
  const start = q;
  const end = p + n;
  while (p < end) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) {
      store<u8>(q++, <u8>b);
      p++;
      continue;
    }
    // How many continuation bytes the lead byte needs, and the range its first one must fall in.
    let need = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    }
    let k = 1;
    while (k <= need && p + k < end) {
      const c = <u32>load<u8>(p + k);
      if (c < lo || c > hi) break;
      lo = 0x80;
      hi = 0xbf;
      k++;
    }
    if (need > 0 && k == need + 1) {
      memory.copy(q, p, k);
      q += k;
    } else {
      store<u8>(q, 0xef);
      store<u8>(q + 1, 0xbf);
      store<u8>(q + 2, 0xbd);
      q += 3;
    }
    p += k;
  }
  return <i32>(q - start);
}

/** Frames from staging; when the outbound space is full, writes it out and frames again. */
function frame(f: i32, ev: i32, id: i32, data: i32, retry: f64): void {
  let r = send(conn, f, ev, id, data, retry);
  if (r == ERR_NO_SPACE) {
    flush();
    r = send(conn, f, ev, id, data, retry);
  }
  if (r < 0) fail("the core refused a frame", 0, EXIT_SOFTWARE);
}

/** Writes every pending byte to stdout. A reader that went away ends the command quietly. */
function flush(): void {
  const n = out_len(conn);
  if (n == 0) return;
  if (!writeAll(STDOUT, out_ptr(conn), n)) exit(EXIT_IO);
  out_consume(conn, n);
}

/** Decimal digits of v at p; returns how many. */
function digits(p: usize, v: u64): i32 {
  let n = 1;
  for (let t = v; t >= 10; t /= 10) n++;
  let q = p + n;
  do {
    store<u8>(--q, <u8>(v % 10) + 0x30);
    v /= 10;
  } while (v != 0);
  return n;
}

function fail(why: string, arg: usize, code: u32): void {
  say(STDERR, "sse-wasi: ");
  say(STDERR, why);
  if (arg != 0) {
    say(STDERR, " ");
    writeAll(STDERR, arg, flags.cstrlen(arg));
  }
  say(STDERR, "\n");
  exit(code);
}

/** An ASCII literal to a descriptor, through a small buffer (literals are UTF-16 in memory). */
function say(fd: u32, s: string): void {
  for (let at = 0; at < s.length; at += 256) {
    const n = min(s.length - at, 256);
    for (let i = 0; i < n; i++) store<u8>(message + i, <u8>s.charCodeAt(at + i));
    writeAll(fd, message, n);
  }
}
