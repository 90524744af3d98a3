// Fuzzes the core's raw ABI from the host side: random exports with random arguments (live,
// stale and garbage handles, out-of-range lengths, NaN and Infinity, unknown flag bits, random
// staging bytes and malformed JSON tapes, calls before init, init twice), each compared with the
// TypeScript model in support/model.ts. The seed is fixed so the suite is repeatable; explore
// with SSE_FUZZ_SEED=<seed> (or "random"), and SSE_FUZZ_CALLS sets how many calls (default 1,000,000).
// About half the modules also get a shape table and/or a history ring with small limits, so
// full tables, refused key lists, shaped tapes and both kinds of ring eviction are common.
// A share of the modules also get a wide region (wide_init, before, between or after those) with
// small outbound spaces, so frames borrow it, are refused while another connection holds it or
// while their own bytes are pending, give it back on a full consume, take or close, and are too
// large for it too; wide_init also goes before init, twice, and with sizes out of range.
import { expect, it } from "vitest";
import {
  ABI_VERSION, TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STR8, TAG_STR16, TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT,
  TAG_OBJECT_END, TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS, type SseExports,
} from "../bindings/abi.js";
import * as M from "./support/model.js";
import { rng, wasmModule } from "./support/wasm.js";

const CALLS = Number(process.env.SSE_FUZZ_CALLS ?? 1_000_000);
const SEED_ENV = process.env.SSE_FUZZ_SEED ?? "20261124";
const SEED = SEED_ENV === "random" ? (Math.random() * 2 ** 32) >>> 0 : Number(SEED_ENV) >>> 0;
/** Every open connection's pending bytes, counters and the memory outside the arenas are checked this often. */
const SWEEP_EVERY = 1000;
/** Calls kept for the report of a failure. */
const TRACE = 40;
/** The share of modules (not the churn one) that configure a shape table, a history or both. */
const OPTIONAL_SHARE = 0.5;
/** In those modules, the share of calls that go to shape_define and the history exports. */
const OPTIONAL_CALLS = 0.1;
/** The share of modules (not the churn one) with a wide region and outbound spaces of 16 to 128 bytes. */
const WIDE_SHARE = 0.35;

const STATUS_NAMES = new Map<number, string>(Object.entries(M)
  .filter(([k, v]) => typeof v === "number" && v < 0 && /^[A-Z_]+$/.test(k)).map(([k, v]) => [v as number, k]));

const align16 = (n: number) => Math.ceil(n / 16) * 16;
/** Bytes as a quoted string: printable ASCII as is, every other byte as \xNN. */
const show = (bytes: Uint8Array) =>
  `"${Array.from(bytes, (b) => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`).join("")}"`;

class Failure extends Error {}

/** A traced call (got is unset if it trapped) or staging write. */
interface Step {
  name: string;
  args: number[];
  got?: number;
  staged?: Uint8Array;
}

function format({ name, args, got, staged }: Step): string {
  if (staged) return `stage(${show(staged.subarray(0, 120))}${staged.length > 120 ? `… ${staged.length} bytes` : ""})`;
  return `${name}(${args.join(", ")})${got === undefined ? " trapped" : ` -> ${got}`}`;
}

/** i32 arguments that probe ToInt32 and the edges of every range. */
const ODD_I32 = [0, -1, -2, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32 + 1, 0.5, -0.5, NaN, Infinity, -Infinity, 65535, 65536, 1 << 30];
const ODD_F64 = [NaN, Infinity, -Infinity, -0, 0, -1, 0.5, 1.5, 2 ** 53, 2 ** 53 - 1, 1e308, 5e-324, Number.MAX_VALUE, -1e-300];
const ODD_NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 1e-6, 123456789012345680000, 5e-324, Number.MAX_VALUE, -Number.MIN_VALUE,
  NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 31), 0.000001234567890123456, -1.2345678901234567e-308];
const STRING_UNITS = ["a", "Z", " ", "0", "\"", "\\", "/", "\x00", "\x01", "\x1f", "\b", "\t", "\n", "\f", "\r", "\x7f",
  "é", "€", "\u2028", "😀", "\ud800", "\udfff", "\ufffe"];

type ExportName = Exclude<keyof SseExports, "memory">;

const LF = Uint8Array.of(0x0a);
const CR = Uint8Array.of(0x0d);
const CRLF = Uint8Array.of(0x0d, 0x0a);
const NUL = Uint8Array.of(0);
const NON_ASCII = new TextEncoder().encode("é€😀");

/** A JSON value JSON.stringify accepts, drawn at random; or a shaped object, for tape tag 0x0C. */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json } | Shaped;

/** An object of a defined shape: the shape's id and one value per member (undefined: a skip, tag 0x0D or a run, 0x10). */
class Shaped {
  constructor(readonly id: number, readonly values: (Json | undefined)[]) {}
}

/** Keys that look alike, repeat, or are array indices (which plain objects would reorder, shapes never). */
const SHAPE_KEYS = ["id", "name", "x", "0", "1", "ts", "é", ""];

class Fuzzer {
  readonly random: () => number;
  x!: SseExports;
  model!: M.Model;
  memory!: ArrayBuffer;
  mem!: Buffer;
  stagingPtr = 0;
  duePtr = 0;
  takenPtr = 0;
  outArena = 0;
  table = 0;
  /** The host's copy of staging: the core must never change it. */
  staging = Buffer.alloc(0);
  /** Staging as the module's memory holds it. */
  stagingView: Buffer = Buffer.alloc(0);
  /** [start, bytes] of every range outside the core's arenas, as init left it. */
  frozen: [number, Buffer][] = [];
  /** Closed handles: the first few of each episode for good, then the latest. */
  stale: number[] = [];
  churn = false;
  /** Payloads of this episode: text with line breaks, JSON value tapes (some corrupted). */
  texts: Uint8Array[] = [];
  tapes: Uint8Array[] = [];
  readonly counts = new Map<string, Map<string, number>>();
  /** The latest calls and staging writes, formatted only when a check fails. */
  readonly trace: Step[] = [];
  readonly tapeBytes = new M.Bytes();
  readonly textBytes = new M.Bytes();
  readonly encoder = new TextEncoder();
  calls = 0;
  checks = 0;
  keepAlives = 0;
  wraps = 0;
  revived = 0;
  episode = 0;
  episodeStart = 0;
  configured = "before init";
  /** What this module configured besides init ("" for neither), and the calls made in such modules. */
  extras = "";
  optionalCalls = 0;
  /** Set around history_init, shape_init and wide_init, the calls after init that may grow memory. */
  growing = false;
  /** Set while drawing a value for a shaped tape: objects may then be shaped. */
  shaping = false;
  /** Set when a shaped value was drawn broken (unknown id, a member too few or too many). */
  broken = false;
  /** Set when a tape names a string kept elsewhere in staging (0x0E): its text is then whatever staging holds there. */
  keptUsed = false;
  /** Tapes drawn with a kept string, and the sends of one that framed an event. */
  readonly keptTapes = new WeakSet<Uint8Array>();
  keptSent = 0;
  /** The key strings of each shape defined from an intact list, by id: what a shaped object's text must show. */
  shapeNames: (string[] | undefined)[] = [];
  /** Sends of a tape drawn with shapes that framed an event. */
  shapedSent = 0;
  /** Ring evictions and emptyings over all modules (from the model), for the report. */
  byCount = 0;
  byBytes = 0;
  emptied = 0;
  /** Set for a module drawn to have a wide region; and the region's counters summed over all modules (from the model). */
  wideModule = false;
  wideModules = 0;
  wideCalls = 0;
  readonly wideTotals = { borrowed: 0, heldByOther: 0, ownPending: 0, tooLarge: 0, releasedByConsume: 0, releasedByClose: 0 };

  constructor(seed: number) {
    this.random = rng(seed);
  }

  // --- randomness ---
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  i32(): number {
    return this.chance(0.5) ? this.pick(ODD_I32) : (this.random() * 2 ** 32) | 0;
  }

  // --- bookkeeping ---
  /** One fuzzed call of an export: traced before it runs (so a trap names it), counted by result. */
  ex(name: ExportName, ...args: number[]): number {
    this.calls++;
    const step: Step = { name, args };
    this.log(step);
    const got = (this.x[name] as (...a: number[]) => number)(...args);
    step.got = got;
    if (this.model.ready) this.checkStaging();
    let byStatus = this.counts.get(name);
    if (!byStatus) this.counts.set(name, (byStatus = new Map()));
    // conn_stat answers NaN on misuse; its -1 is a value (no retry sent), not NOT_INIT.
    const key = Number.isNaN(got) ? "NaN" : got >= 0 || name === "conn_stat" ? "ok" : STATUS_NAMES.get(got) ?? String(got);
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    return got;
  }

  log(step: Step): void {
    if (this.trace.length === TRACE) this.trace.shift();
    this.trace.push(step);
  }

  fail(message: string): never {
    throw new Failure(`${message}\n  seed ${SEED} (replay: SSE_FUZZ_SEED=${SEED} npx vitest run test/fuzz-abi.test.ts), ` +
      `episode ${this.episode} (a fresh module; ${this.configured}), call ${this.calls - this.episodeStart} of the episode (${this.calls} in all)\n  last calls:\n    ${this.trace.map(format).join("\n    ")}`);
  }

  same(what: string, got: number, want: number): void {
    if (!Object.is(got, want)) this.fail(`${what}: engine ${got}, model ${want}`);
  }

  // --- staging ---
  /** Writes bytes at staging[0, …) in the host's copy and in the module. */
  stage(bytes: Uint8Array): void {
    this.staging.set(bytes, 0);
    this.mem.set(bytes, this.stagingPtr);
    this.log({ name: "stage", args: [], staged: bytes });
  }

  // --- checks ---
  /** After every call once init has run: staging is as the host left it, memory as init sized it. */
  checkStaging(): void {
    if (this.x.memory.buffer !== this.memory) {
      if (!this.growing) this.fail("linear memory grew after init");
      this.remap();
    }
    if (Buffer.compare(this.stagingView, this.staging) !== 0) {
      this.fail("a call wrote into staging");
    }
  }

  /** Views of the module's memory, after init or a configuration call grew it. */
  remap(): void {
    this.memory = this.x.memory.buffer;
    this.mem = Buffer.from(this.memory);
    this.stagingView = this.mem.subarray(this.stagingPtr, this.stagingPtr + this.model.config.stagingBytes);
  }

  /**
   * Snapshots every range outside the core's arenas: connection records to staging's end, the
   * due list to the scratch's end, out_take's count, and whatever history_init and shape_init
   * carved since.
   */
  freeze(): void {
    const { maxConns, stagingBytes } = this.model.config;
    const arenas: [number, number][] = [[this.table, this.stagingPtr + stagingBytes - this.table],
      [this.duePtr, maxConns * 4 + M.FIXED_TAIL], [this.takenPtr, 4], ...this.model.carves];
    arenas.sort((a, b) => a[0] - b[0]);
    this.frozen = [];
    let from = 0;
    for (const [start, bytes] of [...arenas, [this.memory.byteLength, 0] as [number, number]]) {
      if (start > from) this.frozen.push([from, Buffer.from(this.mem.subarray(from, start))]);
      from = Math.max(from, start + bytes);
    }
  }

  checkFrozen(): void {
    for (const [start, bytes] of this.frozen) {
      if (Buffer.compare(this.mem.subarray(start, start + bytes.length), bytes) !== 0) {
        this.fail(`memory outside the core's arenas changed in [${start}, ${start + bytes.length}) ` +
          "(if assembly/memory.ts's layout changed, update ROW_BYTES and FIXED_TAIL in test/support/model.ts)");
      }
    }
  }

  /** The history's positions, their pointers and bytes, and the whole ring; the shape table and its rendered keys. */
  checkOptional(): void {
    const h = this.model.history;
    if (h) {
      this.same("history_count()", this.x.history_count(), h.entries.length);
      for (let i = 0; i < h.entries.length; i++) {
        const frame = h.entries[i]!.frame;
        this.same(`history_len(${i})`, this.x.history_len(i), frame.length);
        const ptr = this.x.history_ptr(i);
        this.same(`history_ptr(${i})`, ptr, h.framePtr(i));
        const got = this.mem.subarray(ptr, ptr + frame.length);
        if (Buffer.compare(got, frame) !== 0) this.fail(`history frame ${i}:\n    engine ${show(got)}\n    model  ${show(frame)}`);
      }
      const ring = this.mem.subarray(h.ringAt, h.ringAt + h.ringBytes);
      if (Buffer.compare(ring, h.ring) !== 0) this.fail(`history ring at ${h.ringAt}:\n    engine ${show(ring)}\n    model  ${show(h.ring)}`);
    }
    const s = this.model.shapes;
    if (s) {
      const table = new DataView(this.memory, s.tableAt, s.keys.length * 4);
      s.offsets.forEach((at, id) => this.same(`shape ${id}'s table entry`, table.getUint32(id * 4, true), at));
      const area = this.mem.subarray(s.areaAt, s.areaAt + s.used);
      if (Buffer.compare(area, s.area.subarray(0, s.used)) !== 0) {
        this.fail(`shape area at ${s.areaAt}:\n    engine ${show(area)}\n    model  ${show(s.area.subarray(0, s.used))}`);
      }
    }
  }

  /** Where the connection's pending bytes must lie, [start, bytes, name]: the wide region while it holds it, else its own space. */
  space(c: M.ModelConn): [number, number, string] {
    const w = this.model.wide;
    if (w?.owner === c) return [w.at, w.bytes, "the wide region"];
    const { outBytes } = this.model.config;
    return [this.outArena + c.slot * outBytes, outBytes, `slot ${c.slot}'s space`];
  }

  /** The connection's pending bytes, as out_len/out_ptr name them, equal the model's; they lie in the space it holds. */
  checkPending(c: M.ModelConn): void {
    this.checks++;
    const len = this.x.out_len(c.handle);
    if (len !== c.len) this.fail(`out_len(${c.handle}): engine ${len}, model ${c.len}`);
    const ptr = this.x.out_ptr(c.handle);
    const [at, bytes, name] = this.space(c);
    if (ptr < at || ptr + len > at + bytes) this.fail(`out_ptr(${c.handle}) = ${ptr} lies outside ${name} at ${at}`);
    const got = this.mem.subarray(ptr, ptr + len);
    if (Buffer.compare(got, c.pending.subarray(0, len)) !== 0) {
      this.fail(`pending bytes of ${c.handle}:\n    engine ${show(got)}\n    model  ${show(c.pending.subarray(0, len))}`);
    }
  }

  checkLastId(c: M.ModelConn): void {
    const len = this.x.last_id_len(c.handle);
    const want = c.lastId ?? new Uint8Array(0);
    this.same(`last_id_len(${c.handle})`, len, want.length);
    const ptr = this.x.last_id_ptr(c.handle);
    if (ptr < this.table || ptr + len > this.outArena) this.fail(`last_id_ptr(${c.handle}) = ${ptr} lies outside the connection table`);
    if (Buffer.compare(this.mem.subarray(ptr, ptr + len), want) !== 0) {
      this.fail(`last id of ${c.handle}: engine ${show(this.mem.subarray(ptr, ptr + len))}, model ${show(want)}`);
    }
  }

  /** Everything the model knows, for every slot, and the memory outside the arenas. */
  sweep(): void {
    const m = this.model;
    this.same("open_count()", this.x.open_count(), m.openCount);
    this.same("next_deadline()", this.x.next_deadline(), m.nextDeadline());
    for (let slot = 0; slot < m.config.maxConns; slot++) {
      const c = m.slots[slot];
      if (!c) {
        this.same(`conn_state of free slot ${slot}`, this.x.conn_state((m.gens[slot]! << 16) | slot), M.UNKNOWN_CONN);
        continue;
      }
      this.checkPending(c);
      this.checkLastId(c);
      this.same(`conn_state(${c.handle})`, this.x.conn_state(c.handle), 1);
      for (let which = 0; which <= 7; which++) this.same(`conn_stat(${c.handle}, ${which})`, this.x.conn_stat(c.handle, which), c.stat(which));
    }
    this.checkOptional();
    this.checkFrozen();
  }

  // --- handles and payloads ---
  liveHandle(): number | undefined {
    const m = this.model;
    if (!m.ready || m.openCount === 0) return undefined;
    for (let s = this.int(m.config.maxConns); ; s = (s + 1) % m.config.maxConns) if (m.slots[s]) return m.slots[s]!.handle;
  }

  /** Mostly live handles; else closed ones, other generations of a slot, and garbage (ToInt32 included). */
  handle(): number {
    const u = this.random();
    const live = this.liveHandle();
    if (u < 0.8 && live !== undefined) return live;
    if (u < 0.87 && this.stale.length > 0) return this.pick(this.stale);
    const maxConns = this.model.ready ? this.model.config.maxConns : 4;
    if (u < 0.92) {
      const slot = this.int(maxConns);
      const gen = this.model.gens[slot] ?? 1;
      return (this.pick([gen - 1, gen + 1, 0, 0x7fff, 0x8000, 1]) << 16) | slot;
    }
    if (u < 0.95 && live !== undefined) return this.pick([live + 0.5, live + 2 ** 32, live - 2 ** 32, -live, live | 0xffff]);
    if (u < 0.97) return (1 << 16) | (maxConns + this.int(4));
    return this.i32();
  }

  asciiWord(max: number): string {
    let s = "";
    for (let n = this.int(max + 1); n > 0; n--) s += String.fromCharCode(0x21 + this.int(94));
    return s;
  }

  randomBytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Text with every kind of line break, some non-ASCII, now and then a byte that is not UTF-8. */
  text(max: number): Uint8Array {
    const w = this.textBytes;
    w.reset();
    for (let n = this.int(max + 1); n > 0; n--) {
      const u = this.random();
      if (u < 0.27) {
        const piece = u < 0.1 ? LF : u < 0.17 ? CR : u < 0.22 ? CRLF : u < 0.25 ? NON_ASCII : NUL;
        w.bytes(piece, 0, piece.length);
      } else {
        // A word of up to 6 printable ASCII bytes from one draw.
        let bits = (this.random() * 2 ** 32) >>> 0;
        for (let k = bits % 7; k > 0; k--, bits >>>= 5) w.byte(0x21 + (bits & 0x3f));
      }
    }
    const bytes = w.buf.slice(0, w.len);
    if (this.chance(0.05) && bytes.length > 0) bytes[this.int(bytes.length)] = 0x80 + this.int(128);
    return bytes;
  }

  eventName(): Uint8Array {
    const u = this.random();
    if (u < 0.1) return this.text(4);
    if (u < 0.15) return this.randomBytes(this.int(12));
    return this.encoder.encode(this.pick(["", "update", "tick", "sensor", "é", "x y"]) + this.asciiWord(6));
  }

  id(): Uint8Array {
    const u = this.random();
    if (u < 0.06) return this.randomBytes(1 + this.int(8));
    if (u < 0.1) return this.encoder.encode("x".repeat(this.pick([255, 256, 257, 300])) + (this.chance(0.2) ? "\n" : ""));
    if (u < 0.13) return this.encoder.encode("é".repeat(this.pick([128, 129])));
    if (u < 0.18) return new Uint8Array(0);
    return this.encoder.encode(String(this.int(1e6)) + this.asciiWord(3).replace(/\s/g, ""));
  }

  string(): string {
    let s = "";
    for (let n = this.int(10); n > 0; n--) s += this.pick(STRING_UNITS);
    return s;
  }

  number(): number {
    const u = this.random();
    if (u < 0.3) return this.pick(ODD_NUMBERS);
    if (u < 0.5) return this.int(1e6) - 5e5;
    if (u < 0.7) return (this.random() - 0.5) * 10 ** (this.int(40) - 20);
    const v = new DataView(new ArrayBuffer(8));
    v.setUint32(0, (this.random() * 2 ** 32) >>> 0);
    v.setUint32(4, (this.random() * 2 ** 32) >>> 0);
    return v.getFloat64(0);
  }

  value(depth: number): Json {
    // A shaped tape is mostly containers at the top, so that its shapes show up.
    const u = this.shaping && depth === 0 ? 0.55 + 0.45 * this.random() : this.random();
    if (depth > 3 || u < 0.55) {
      const k = this.random();
      return k < 0.1 ? null : k < 0.2 ? this.chance(0.5) : k < 0.55 ? this.number() : this.string();
    }
    if (u < 0.8) return Array.from({ length: this.int(5) }, () => this.value(depth + 1));
    const shapes = this.shaping ? this.model.shapes!.keys : [];
    if (shapes.length > 0 && this.chance(0.75)) return this.shaped(depth, shapes.length);
    const o: { [k: string]: Json } = {};
    for (let n = this.int(5); n > 0; n--) o[this.string()] = this.value(depth + 1);
    return o;
  }

  /** An object of one of the `defined` shapes; now and then broken: an unknown id, a member too few or too many. */
  shaped(depth: number, defined: number): Shaped {
    const u = this.random();
    let id = this.int(defined);
    let members = this.model.shapes!.keys[id]!.length;
    if (u < 0.03) id = this.pick([defined, defined + 1, 0xffff]);
    else if (u < 0.06 && members > 0) members--;
    else if (u < 0.09) members++;
    if (u < 0.09) this.broken = true;
    return new Shaped(id, Array.from({ length: members }, () => this.chance(0.2) ? undefined : this.value(depth + 1)));
  }

  /** The JSON text a valid tape of `v` must give (a skipped member is left out), or undefined if a shape's keys are unknown. */
  jsonText(v: Json): string | undefined {
    if (v instanceof Shaped) {
      const names = this.shapeNames[v.id];
      if (!names) return undefined;
      const members: string[] = [];
      for (let i = 0; i < v.values.length; i++) {
        if (v.values[i] === undefined) continue;
        const text = this.jsonText(v.values[i]!);
        if (text === undefined) return undefined;
        members.push(`${JSON.stringify(names[i])}:${text}`);
      }
      return `{${members.join(",")}}`;
    }
    if (Array.isArray(v)) {
      const items = v.map((x) => this.jsonText(x));
      return items.includes(undefined) ? undefined : `[${items.join(",")}]`;
    }
    if (v !== null && typeof v === "object") {
      const members = Object.keys(v).map((k) => [k, this.jsonText(v[k]!)]);
      return members.some(([, t]) => t === undefined) ? undefined : `{${members.map(([k, t]) => `${JSON.stringify(k)}:${t}`).join(",")}}`;
    }
    return JSON.stringify(v);
  }

  /** The value tape of `v` (format: assembly/json.ts), written independently of bindings/tape.ts. */
  tape(v: Json, out: number[]): void {
    if (v instanceof Shaped) {
      out.push(TAG_SHAPE, v.id & 0xff, v.id >>> 8);
      for (let i = 0; i < v.values.length;) {
        // Skips in a row go one by one (0x0D) or, as often, as one run (0x10, count).
        let n = 0;
        while (v.values[i + n] === undefined && i + n < v.values.length) n++;
        if (n === 0) this.tape(v.values[i++]!, out);
        else if (n > 1 && this.chance(0.5)) out.push(TAG_SKIPS, n);
        else out.push(...Array<number>(n).fill(TAG_SKIP));
        i += n;
      }
    } else if (v === null) out.push(TAG_NULL);
    else if (v === false) out.push(TAG_FALSE);
    else if (v === true) out.push(TAG_TRUE);
    else if (typeof v === "number") {
      // An integer of 32 bits goes as i32 (0x0F) or, as often, as f64 (0x03): both are valid.
      const int32 = (v | 0) === v && this.chance(0.5);
      out.push(int32 ? TAG_INT32 : TAG_NUMBER);
      const b = new Uint8Array(int32 ? new Int32Array([v]).buffer : new Float64Array([v]).buffer);
      for (const x of b) out.push(x);
    } else if (typeof v === "string") {
      if (this.chance(0.1)) this.keptString(out);
      else this.tapeString(v, false, out);
    } else if (Array.isArray(v)) {
      out.push(TAG_ARRAY);
      for (const item of v) this.tape(item, out);
      out.push(TAG_ARRAY_END);
    } else {
      out.push(TAG_OBJECT);
      for (const k of Object.keys(v)) {
        this.tapeString(k, true, out);
        this.tape(v[k]!, out);
      }
      out.push(TAG_OBJECT_END);
    }
  }

  tapeString(s: string, key: boolean, out: number[]): void {
    const utf16 = !s.isWellFormed() || this.chance(0.4);
    const body = utf16 ? new Uint8Array(s.length * 2) : this.encoder.encode(s);
    const view = new DataView(body.buffer);
    if (utf16) for (let i = 0; i < s.length; i++) view.setUint16(2 * i, s.charCodeAt(i), true);
    const units = utf16 ? s.length : body.length;
    out.push(key ? (utf16 ? TAG_KEY16 : TAG_KEY8) : utf16 ? TAG_STR16 : TAG_STR8, units & 0xff, (units >>> 8) & 0xff, (units >>> 16) & 0xff, units >>> 24);
    for (const x of body) out.push(x);
  }

  /**
   * A string kept elsewhere in staging (0x0E): mostly bytes inside staging (up to its very
   * end), now and then a range that leaves it, which the core must refuse.
   */
  keptString(out: number[]): void {
    this.keptUsed = true;
    const cap = this.model.config.stagingBytes;
    let at = this.int(cap + 1);
    let count = this.int(Math.min(80, cap - at) + 1);
    const u = this.random();
    if (u < 0.05) at = this.pick([cap + 1, 0xffffffff]);
    else if (u < 0.1) count = cap - at + 1;
    else if (u < 0.12) count = 0xffffffff;
    out.push(TAG_STR_AT);
    for (const x of [at, count]) out.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24);
  }

  /** A JSON value tape: mostly valid (the model's text is checked against JSON.stringify), else corrupted. */
  jsonTape(): Uint8Array {
    let value: Json;
    if (this.chance(0.02)) {
      value = this.pick([null, 1, "x"]);
      for (let d = this.pick([1, 255, 256, 257]); d > 0; d--) value = [value];
    } else {
      value = this.value(0);
    }
    const bytes: number[] = [];
    this.keptUsed = false;
    this.tape(value, bytes);
    const u = this.random();
    let tape = Uint8Array.from(bytes);
    // A kept string's text is staging's, known at the send: the model reads it then.
    let malformed: boolean | undefined = this.keptUsed ? undefined : false;
    if (u < 0.04) {
      tape = tape.subarray(0, this.int(tape.length));
      malformed = true;
    } else if (u < 0.07) {
      tape = Uint8Array.from([...bytes, this.int(256)]);
      malformed = true;
    } else if (u < 0.09) {
      tape[0] = TAG_SHAPE + this.int(256 - TAG_SHAPE);
      malformed = true;
    } else if (u < 0.15) {
      tape[this.int(tape.length)] = this.int(256);
      malformed = undefined; // the model decides
    }
    if (this.keptUsed) this.keptTapes.add(tape);
    if (malformed !== undefined) {
      this.tapeBytes.reset();
      const ok = M.tapeToJson(tape, 0, tape.length, this.tapeBytes);
      const deep = JSON.stringify(value).startsWith("[".repeat(M.MAX_DEPTH + 1));
      if (ok === (malformed || deep)) this.fail(`model reads tape of ${JSON.stringify(value)?.slice(0, 80)} as ${ok ? "valid" : "malformed"}`);
      if (ok) {
        const text = Buffer.from(this.tapeBytes.buf.subarray(0, this.tapeBytes.len)).toString("utf8");
        if (text !== JSON.stringify(value)) this.fail(`model's JSON text ${text} differs from JSON.stringify: ${JSON.stringify(value)}`);
      }
    }
    return tape;
  }

  /**
   * A tape that uses the defined shapes (with skips), drawn fresh as shapes come and go: the
   * model must read an intact one as valid and, where it knows every shape's keys, as the text
   * jsonText spells out. Broken or corrupted ones the model decides.
   */
  shapedTape(): Uint8Array {
    this.shaping = true;
    this.broken = false;
    const value = this.value(0);
    this.shaping = false;
    const bytes: number[] = [];
    this.keptUsed = false;
    this.tape(value, bytes);
    let tape = Uint8Array.from(bytes);
    const u = this.random();
    if (u < 0.03) tape = tape.subarray(0, this.int(tape.length));
    else if (u < 0.06) tape[this.int(tape.length)] = this.pick([TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS, this.int(256)]);
    else if (u < 0.08) tape = Uint8Array.from([...bytes, this.pick([TAG_SKIP, TAG_NULL, TAG_SHAPE, TAG_SKIPS])]);
    if (this.keptUsed) this.keptTapes.add(tape);
    if (u < 0.08 || this.broken || this.keptUsed) return tape;
    this.tapeBytes.reset();
    if (!M.tapeToJson(tape, 0, tape.length, this.tapeBytes, this.model.shapes!.keys)) this.fail(`model reads an intact shaped tape as malformed: ${show(tape)}`);
    const want = this.jsonText(value);
    const text = Buffer.from(this.tapeBytes.buf.subarray(0, this.tapeBytes.len)).toString("utf8");
    if (want !== undefined && text !== want) this.fail(`model's JSON text ${text} of a shaped tape differs from ${want}`);
    return tape;
  }

  /**
   * A shape key list (u32 count, then tape strings under either tag): its bytes, and its keys if
   * it is intact. Broken ones: a count off by one or past 0xFFFF, a wrong tag, cut short, a byte too many.
   */
  keyList(): { list: Uint8Array; names?: string[] } {
    const names = Array.from({ length: this.pick([0, 1, 1, 2, 2, 3, 4, 6]) }, () => {
      const u = this.random();
      return u < 0.35 ? this.pick(SHAPE_KEYS) : u < 0.4 ? "k".repeat(this.int(120)) : this.string();
    });
    const out: number[] = [names.length & 0xff, names.length >>> 8, 0, 0];
    for (const k of names) this.tapeString(k, this.chance(0.5), out);
    const list = Uint8Array.from(out);
    const u = this.random();
    if (u < 0.75) return { list, names };
    if (u < 0.8) list[0] = list[0]! + this.pick([1, -1]);
    else if (u < 0.83) list[2] = 1 + this.int(255);
    else if (u < 0.87 && names.length > 0) list[4] = this.pick([TAG_NULL, TAG_ARRAY, TAG_OBJECT, TAG_SHAPE, TAG_SKIP, this.int(256)]);
    else if (u < 0.95) return { list: list.subarray(0, this.int(list.length)) };
    else return { list: Uint8Array.from([...out, this.int(256)]) };
    return { list };
  }

  /** An id for a recorded frame: a few repeat, so history_find must name the newest. */
  historyId(): Uint8Array {
    const u = this.random();
    if (u < 0.1) return new Uint8Array(0);
    if (u < 0.85) return this.encoder.encode(`e${this.int(12)}`);
    return this.id();
  }

  /** A length as the host meant it, or now and then one out of range. */
  length(n: number, cap: number): number {
    if (this.chance(0.96)) return n;
    return this.pick([-1, -(2 ** 31), cap, cap + 1, n + 1, n - 1, 2 ** 31 - 1, this.i32()]);
  }

  // --- the calls ---
  doSend(): void {
    const cap = this.staging.length;
    let flags = 0;
    if (this.chance(0.3)) flags |= M.HAS_EVENT;
    if (this.chance(0.3)) flags |= M.HAS_ID;
    if (this.chance(0.15)) flags |= M.HAS_RETRY;
    if (this.chance(0.3)) flags |= M.DATA_JSON;
    if (this.chance(0.05)) flags |= M.NO_DATA;
    const history = this.model.history !== null;
    // With a history, a third of the frames are recorded, nearly all with an id as they must be.
    if (this.chance(history ? 0.35 : 0.01)) flags |= M.RECORD | (history && this.chance(0.9) ? M.HAS_ID : 0);
    if (this.chance(0.02)) flags = this.chance(0.5) ? flags | (1 << (6 + this.int(26))) : this.i32();
    const ev = flags & M.HAS_EVENT ? this.eventName() : new Uint8Array(0);
    const id = flags & M.HAS_ID ? history && this.chance(0.7) ? this.historyId() : this.id() : new Uint8Array(0);
    const shaped = !!(flags & M.DATA_JSON) && this.model.shapes !== null && this.chance(0.5);
    let data = this.chance(0.03) ? this.randomBytes(this.int(64)) : shaped ? this.shapedTape() : this.pick(flags & M.DATA_JSON ? this.tapes : this.texts);
    const kept = this.keptTapes.has(data);
    const idFits = id.subarray(0, cap - ev.length);
    data = data.subarray(0, cap - ev.length - idFits.length);
    const all = new Uint8Array(ev.length + idFits.length + data.length);
    all.set(ev, 0);
    all.set(idFits, ev.length);
    all.set(data, ev.length + idFits.length);
    this.stage(all);
    const h = this.handle();
    // A field the flags leave out gets length 0 (ABI 5), now and then anything else (BAD_ARG).
    const absent = (): number => (this.chance(0.96) ? 0 : this.pick([this.i32(), 1, -1, cap + 1]));
    const evLen = flags & M.HAS_EVENT ? this.length(ev.length, cap) : absent();
    const idLen = flags & M.HAS_ID ? this.length(idFits.length, cap) : absent();
    const dataLen = flags & M.NO_DATA ? absent() : this.length(data.length, cap);
    const retry = this.chance(0.8) ? this.pick([0, 1, 1000, 3000, 2 ** 53 - 1, this.int(1e7)]) : this.pick(ODD_F64);
    const got = this.ex("send", h, flags, evLen, idLen, dataLen, retry);
    this.same("send", got, this.model.send(h, flags, evLen, idLen, dataLen, retry, this.staging));
    this.afterOn(h);
    if (shaped && got >= 0) this.shapedSent++;
    if (kept && flags & M.DATA_JSON && got >= 0) this.keptSent++;
    if (flags & M.RECORD && history) this.same("history_count after send", this.x.history_count(), this.model.historyCount());
  }

  doComment(): void {
    const h = this.handle();
    const c = this.model.lookup(h);
    // Now and then one line sized to fill the free space exactly, or to miss it by a byte: the
    // space the connection holds or, as often when it has nothing pending, the wide region.
    const w = this.model.wide;
    const room = c && w && c.len === 0 && this.chance(0.5) ? w.bytes : c ? this.model.room(c) : 0;
    const fill = c && this.chance(0.15) ? room - c.len - 3 + this.int(2) : -1;
    const bytes = fill >= 0 ? new Uint8Array(Math.min(fill, this.staging.length)).fill(0x2e)
      : this.pick(this.texts).subarray(0, this.staging.length);
    this.stage(bytes);
    const len = this.length(bytes.length, this.staging.length);
    const got = this.ex("comment", h, len);
    this.same("comment", got, this.model.comment(h, len, this.staging));
    this.afterOn(h);
  }

  doConsume(): void {
    const h = this.handle();
    const pending = this.model.lookup(h)?.len ?? this.int(100);
    const u = this.random();
    const n = u < 0.45 ? pending : u < 0.75 ? this.int(pending + 1) : u < 0.85 ? pending + 1 : u < 0.9 ? 0 : this.i32();
    const got = this.ex("out_consume", h, n);
    this.same("out_consume", got, this.model.consume(h, n));
    this.afterOn(h);
  }

  /** out_take: the address of exactly the model's pending bytes, their count at taken_ptr; then none is pending. */
  doTake(): void {
    const h = this.handle();
    const c = this.model.ready ? this.model.lookup(h) : undefined;
    if (c === undefined) return void this.same("out_take", this.ex("out_take", h), this.model.consume(h, 0));
    const want = Buffer.from(c.pending.subarray(0, c.len));
    // Where they are before the take: taking the last byte gives the wide region back, but the
    // bytes taken are still there (until something is framed there again).
    const [at, bytes, name] = this.space(c);
    const ptr = this.ex("out_take", h);
    const n = new Uint32Array(this.memory, this.takenPtr, 1)[0]!;
    if (n !== want.length) this.fail(`out_take(${h}) counted ${n} bytes, model ${want.length}`);
    if (ptr < at || ptr + n > at + bytes) this.fail(`out_take(${h}) = ${ptr} lies outside ${name} at ${at}`);
    if (Buffer.compare(this.mem.subarray(ptr, ptr + n), want) !== 0) {
      this.fail(`bytes out_take(${h}) took:\n    engine ${show(this.mem.subarray(ptr, ptr + n))}\n    model  ${show(want)}`);
    }
    this.same("out_take, then the model consumes", this.model.consume(h, n), 0);
    this.afterOn(h);
  }

  doOpen(): void {
    const u = this.random();
    let len = -1;
    if (u < 0.55) {
      const id = this.id().subarray(0, this.staging.length);
      this.stage(id);
      len = id.length;
    } else if (u < 0.65) {
      len = this.pick([-2, -(2 ** 31), this.staging.length + 1, this.i32()]);
    }
    const want = this.model.openStatus(len, this.staging);
    const got = this.ex("conn_open", len);
    if (want !== 0 || got <= 0) return this.same("conn_open", got, want);
    const wrong = this.model.adopt(got, len, this.staging);
    if (wrong) this.fail(`conn_open: ${wrong}`);
    this.afterOn(got);
  }

  doClose(h = this.handle()): void {
    const got = this.ex("conn_close", h);
    this.same("conn_close", got, this.model.close(h));
    if (got === 0) {
      if (this.stale.length === 64) this.stale.splice(8 + this.int(56), 1);
      this.stale.push(h | 0);
    }
  }

  /** Open-close cycles on a small table: generations wrap at 32767, old handles come back to life. */
  doChurn(): void {
    for (let n = 0; n < 200; n++) {
      this.doOpen();
      // The first handles closed this episode: unknown, until their generation comes round again.
      const pinned = this.stale.slice(0, 8);
      const back = pinned.find((h) => this.model.lookup(h));
      const old = back ?? (n % 16 === 0 ? pinned[n % pinned.length] : undefined);
      if (back !== undefined) this.revived++;
      if (old !== undefined) this.same("conn_state", this.ex("conn_state", old), this.model.state(old));
      const h = this.liveHandle();
      if (h !== undefined) this.doClose(h);
    }
  }

  doTick(): void {
    const m = this.model;
    const step = m.config.keepAliveMs > 0 && m.config.keepAliveMs < 1e6 ? m.config.keepAliveMs : 1000;
    const u = this.random();
    const now = u < 0.7 ? m.now + this.random() * step * 1.5 : u < 0.8 ? m.now : u < 0.88 ? Math.max(0, m.now - this.random() * step) : this.pick(ODD_F64);
    const got = this.ex("tick", now);
    this.same("tick", got, m.tick(now));
    if (got <= 0) return;
    this.keepAlives += got;
    const listed = Array.from(new Int32Array(this.memory, this.duePtr, got));
    if (listed.join() !== m.due.join()) this.fail(`tick listed ${listed.join()}, model ${m.due.join()}`);
    for (const h of listed) this.checkPending(m.lookup(h)!);
  }

  /** The reads: each answer equals the model's, pointers name the model's bytes. */
  doRead(): void {
    const m = this.model;
    const h = this.handle();
    const c = m.ready ? m.lookup(h) : undefined;
    switch (this.int(14)) {
      case 0: return this.same("conn_state", this.ex("conn_state", h), m.state(h));
      case 1: {
        const which = this.chance(0.9) ? this.int(8) : this.i32();
        return this.same("conn_stat", this.ex("conn_stat", h, which), m.stat(h, which));
      }
      case 2: return this.same("last_id_len", this.ex("last_id_len", h), m.lastIdLen(h));
      case 3: {
        // A pointer: checkLastId reads the bytes it names.
        const got = this.ex("last_id_ptr", h);
        return c ? this.checkLastId(c) : this.same("last_id_ptr", got, m.state(h));
      }
      case 4: return this.same("out_len", this.ex("out_len", h), m.outLen(h));
      case 5: {
        const got = this.ex("out_ptr", h);
        return c ? this.checkPending(c) : this.same("out_ptr", got, m.state(h));
      }
      case 6: return this.same("open_count", this.ex("open_count"), m.openCountResult());
      case 7: return this.same("next_deadline", this.ex("next_deadline"), m.nextDeadline());
      case 8: return this.same("staging_cap", this.ex("staging_cap"), m.stagingCap());
      case 9: return this.same("abi_version", this.ex("abi_version"), ABI_VERSION);
      case 10: return this.same("staging_ptr", this.ex("staging_ptr"), m.ready ? this.stagingPtr : M.NOT_INIT);
      case 11: return this.same("due_ptr", this.ex("due_ptr"), m.ready ? this.duePtr : M.NOT_INIT);
      case 12: return this.same("taken_ptr", this.ex("taken_ptr"), m.ready ? this.takenPtr : M.NOT_INIT);
      default: return this.doOptional();
    }
  }

  /**
   * The history and shape exports. Modules that configured neither only see refusals and empty
   * answers (init calls with arguments out of range); the others also configure what is missing.
   */
  doOptional(): void {
    const m = this.model;
    // A valid size configures a region: in a module drawn without one only rarely, and late,
    // so most such modules keep ABI 5's behaviour (TOO_LARGE past outBytes).
    if (this.chance(0.05)) return this.doWideInit(this.wideBytes(this.chance(this.wideModule ? 0.5 : 0.002)));
    const a = this.chance(0.5) ? this.int(300) : this.i32();
    switch (this.int(this.extras ? 10 : 7)) {
      case 0: {
        const [count, bytes] = this.extras && this.chance(0.5) ? this.smallLimits("history")
          : this.pick([[0, 1024], [-1, 1024], [2 ** 20 + 1, 1024], [8, 15], [8, 2 ** 30 + 1], [NaN, 64]]);
        return this.doConfigure("history", count!, bytes!);
      }
      case 1: {
        const [count, bytes] = this.extras && this.chance(0.5) ? this.smallLimits("shape")
          : this.pick([[0, 1024], [-1, 1024], [65536, 1024], [8, 15], [8, -1], [NaN, 64]]);
        return this.doConfigure("shape", count!, bytes!);
      }
      case 2: return this.same("history_count", this.ex("history_count"), m.historyCount());
      case 3: case 7: return this.doHistoryFind();
      case 4: case 8: return this.doHistoryAt("ptr", a);
      case 5: return this.doHistoryAt("len", a);
      default: return this.doShapeDefine();
    }
  }

  /** Limits small enough that a full table and both kinds of eviction are common. */
  smallLimits(kind: "history" | "shape"): [number, number] {
    return kind === "shape"
      ? [this.pick([1, 2, 3, 8, 1 + this.int(16), 64, 300]), this.pick([16, 17, 40, 100, 200, 16 + this.int(400), 2000])]
      : [this.pick([1, 2, 3, 4, 8, 1 + this.int(32)]), this.pick([16, 40, 100, 200, 500, 1000, 16 + this.int(2000)])];
  }

  /** history_init or shape_init; once one succeeds, its regions join the core's arenas. */
  doConfigure(kind: "history" | "shape", count: number, bytes: number): void {
    this.growing = true;
    const got = this.ex(`${kind}_init`, count, bytes);
    this.growing = false;
    this.same(`${kind}_init`, got, this.model.configure(kind, count, bytes));
    if (got !== 0) return;
    this.checkFrozen();
    this.freeze();
    this.configured += `, ${kind}_init(${count}, ${bytes})`;
  }

  /**
   * A wide region's size: a valid one is more than outBytes and small (4 KiB past it at most),
   * so frames too large for it are common; else mostly one out of range (a random i32 now and
   * then is a valid 64 KiB, which no frame outgrows), never one whose carve the model cannot decide.
   */
  wideBytes(valid: boolean): number {
    const out = this.model.config.outBytes;
    if (valid) return out + this.pick([1, 2, 8, 16 + this.int(300), 16 + this.int(300), 300 + this.int(1700), 4096]);
    const bytes = this.pick([out, out - 1, 0, -1, NaN, 0.5, 2 ** 30 + 1, 2 ** 31 - 1, -(2 ** 31), this.i32()]);
    return this.model.wideStatus(bytes) === undefined ? 2 ** 30 + 1 : bytes;
  }

  /** wide_init; once one succeeds, its region joins the core's arenas. */
  doWideInit(bytes: number): void {
    this.growing = true;
    const got = this.ex("wide_init", bytes);
    this.growing = false;
    this.same("wide_init", got, this.model.wideInit(bytes));
    if (got !== 0) return;
    this.checkFrozen();
    this.freeze();
    this.configured += `, wide_init(${bytes})`;
  }

  doShapeDefine(): void {
    const m = this.model;
    const cap = this.staging.length;
    const { list, names } = this.keyList();
    // Now and then the list sits past other bytes: shape_define reads staging[at, at + len).
    const pad = this.chance(0.2) ? this.randomBytes(1 + this.int(8)) : new Uint8Array(0);
    const staged = Buffer.concat([pad, list]).subarray(0, cap);
    // Before init staging is not the host's to write: only the refusal is asked for.
    if (m.ready) this.stage(staged);
    const at = this.chance(0.96) ? pad.length : this.pick([-1, cap, cap + 1, pad.length + 1, this.i32()]);
    const len = this.length(list.length, cap);
    const got = this.ex("shape_define", at, len);
    this.same("shape_define", got, m.shapeDefine(at, len, this.staging));
    const intact = names && at === pad.length && len === list.length && staged.length === pad.length + list.length;
    if (got >= 0) this.shapeNames[got] = intact ? names : undefined;
  }

  doHistoryFind(): void {
    const m = this.model;
    const kept = m.history?.entries ?? [];
    const id = (kept.length > 0 && this.chance(0.5) ? this.pick(kept).id : this.historyId()).subarray(0, this.staging.length);
    if (m.ready) this.stage(id);
    const n = this.length(id.length, this.staging.length);
    this.same("history_find", this.ex("history_find", n), m.historyFind(n, this.staging));
  }

  /** history_ptr or history_len of a position mostly in range; a pointer must name the model's frame. */
  doHistoryAt(what: "ptr" | "len", odd: number): void {
    const m = this.model;
    const count = m.history?.entries.length ?? 0;
    const i = this.chance(0.7) ? this.int(count + 2) - 1 : odd;
    const got = this.ex(`history_${what}`, i);
    this.same(`history_${what}`, got, m.historyAt(i, what));
    if (what === "ptr" && got > 0) {
      const frame = m.history!.entries[i | 0]!.frame; // i as the i32 parameter sees it
      const bytes = this.mem.subarray(got, got + frame.length);
      if (Buffer.compare(bytes, frame) !== 0) this.fail(`history frame ${i}:\n    engine ${show(bytes)}\n    model  ${show(frame)}`);
    }
  }

  /** After a call on `h`: h's pending bytes are the model's. */
  afterOn(h: number): void {
    const c = this.model.lookup(h);
    if (c) this.checkPending(c);
  }

  /** init with arguments that are out of range or cannot fit: refused, nothing changes. */
  badInitArgs(): [number, number, number, number] {
    if (this.chance(0.9)) {
      return this.pick<[number, number, number, number]>([
        [0, 1024, 1024, 0], [65536, 16, 256, 0], [-1, 1024, 1024, 0], [4, 15, 1024, 0], [4, 1024, 255, 0],
        [4, 2 ** 30 + 1, 1024, 0], [4, 1024, 2 ** 30 + 1, 0], [4, 1024, 1024, -1], [4, 1024, 1024, NaN],
        [4, 1024, 1024, Infinity], [NaN, 1024, 1024, 0], [65535, 2 ** 20, 256, 0], [1, 2 ** 30, 2 ** 30, 0],
      ]);
    }
    for (;;) {
      const args: [number, number, number, number] = [this.i32(), this.i32(), this.i32(), this.pick(ODD_F64)];
      const outcome = M.initOutcome(...args);
      if (outcome !== undefined && outcome < 0) return args;
    }
  }

  doInit(args: [number, number, number, number]): number {
    const got = this.ex("init", ...args);
    this.same("init", got, this.model.init(...args));
    return got;
  }

  /** A fresh module: calls before init change no byte, then one init carves memory for good. */
  startEpisode(): void {
    this.episode++;
    this.episodeStart = this.calls;
    this.trace.length = 0;
    this.stale = [];
    this.extras = "";
    this.churn = this.episode === 2;
    this.wideModule = !this.churn && this.chance(WIDE_SHARE);
    this.x = new WebAssembly.Instance(wasmModule("sse"), {}).exports as unknown as SseExports;
    this.model = new M.Model();
    this.configured = "before init";
    this.memory = this.x.memory.buffer;
    this.mem = Buffer.from(this.memory);
    const before = Buffer.from(this.mem);
    for (let n = this.int(12); n > 0; n--) {
      if (this.chance(0.3)) this.doInit(this.badInitArgs());
      else this.preInitCall();
      if (this.x.memory.buffer !== this.memory || !this.mem.equals(before)) this.fail("a call before init changed memory");
    }
    const config: [number, number, number, number] = this.churn ? [1, 64, 256, 10] : [
      this.pick([1, 1, 2, 3, 4, 5, 8, 16, 64]),
      // With a wide region, small spaces: most frames then need the region.
      this.wideModule ? this.pick([16, 17, 24, 31, 48, 64, 100, 128])
        : this.chance(0.5) ? this.pick([16, 17, 31, 64, 100, 256, 512, 1024, 4096]) : 16 + this.int(2000),
      this.pick([256, 257, 300, 512, 1024, 4096, 8192]),
      this.chance(0.3) ? 0 : this.chance(0.8) ? 1 + this.int(5000) : this.pick([0.25, 5e-324, 1e300, 15000.5]),
    ];
    if (this.doInit(config) !== 0) this.fail("init refused a valid configuration");
    this.configured = `init(${config.join(", ")})`;
    this.memory = this.x.memory.buffer;
    this.mem = Buffer.from(this.memory);
    this.stagingPtr = this.x.staging_ptr();
    this.duePtr = this.x.due_ptr();
    this.takenPtr = this.x.taken_ptr();
    const { maxConns, outBytes, stagingBytes } = this.model.config;
    this.stagingView = this.mem.subarray(this.stagingPtr, this.stagingPtr + stagingBytes);
    this.staging = Buffer.from(this.stagingView);
    // The layout of assembly/memory.ts: records, outbound spaces, staging, due list, depth stack, scratch.
    this.outArena = this.stagingPtr - align16(maxConns * outBytes);
    this.table = this.outArena - maxConns * M.ROW_BYTES;
    if (this.table % 16 !== 0 || this.duePtr !== align16(this.stagingPtr + stagingBytes)) {
      this.fail(`memory layout differs from assembly/memory.ts: staging at ${this.stagingPtr}, due list at ${this.duePtr}`);
    }
    // Drawn once per module: the calls, not the payloads, are what the per-call budget buys.
    this.texts = Array.from({ length: 256 }, () => this.text(this.chance(0.03) ? 2000 : 30));
    this.tapes = Array.from({ length: 256 }, () => this.jsonTape());
    this.model.place(this.duePtr + maxConns * 4 + M.FIXED_TAIL);
    this.freeze();
    this.shapeNames = [];
    const kinds = !this.churn && this.chance(OPTIONAL_SHARE)
      ? this.pick<("history" | "shape")[]>([["shape"], ["history"], ["shape", "history"], ["history", "shape"]]) : [];
    // The wide region goes anywhere among them: each carve is placed after those before it.
    const order: ("history" | "shape" | "wide")[] = [...kinds];
    if (this.wideModule) order.splice(this.int(order.length + 1), 0, "wide");
    for (const kind of order) {
      if (kind === "wide") {
        // Now and then a size refused first, and a second call once it is carved (ALREADY_INIT).
        if (this.chance(0.2)) this.doWideInit(this.wideBytes(false));
        this.doWideInit(this.wideBytes(true));
        if (this.model.wide === null) this.fail("wide_init refused a valid configuration");
        if (this.chance(0.2)) this.doWideInit(this.wideBytes(this.chance(0.5)));
        continue;
      }
      const [count, bytes] = this.smallLimits(kind);
      this.doConfigure(kind, count, bytes);
      if (this.model[kind === "shape" ? "shapes" : "history"] === null) this.fail(`${kind}_init refused a valid configuration`);
    }
    this.extras = kinds.join(" and ");
  }

  preInitCall(): void {
    const h = this.handle();
    switch (this.int(8)) {
      case 0: return this.same("conn_open", this.ex("conn_open", this.pick([-1, 0, 4])), M.NOT_INIT);
      case 1: return this.same("send", this.ex("send", h, this.int(32), 0, 0, this.int(8), 0), M.NOT_INIT);
      case 2: return this.same("comment", this.ex("comment", h, this.int(4)), M.NOT_INIT);
      case 3: return this.same("out_consume", this.ex("out_consume", h, this.int(2)), M.NOT_INIT);
      case 4: return this.same("tick", this.ex("tick", this.pick([0, 1, NaN])), M.NOT_INIT);
      case 5: return this.same("conn_close", this.ex("conn_close", h), M.NOT_INIT);
      case 6: return this.same("out_take", this.ex("out_take", h), M.NOT_INIT);
      default: return this.doRead();
    }
  }

  /** One random call after init. */
  step(): void {
    const u = this.random();
    if (this.churn && u < 0.5) return this.doChurn();
    if (this.extras && this.chance(OPTIONAL_CALLS)) this.doOptional();
    else if (u < 0.32) this.doSend();
    else if (u < 0.38) this.doComment();
    else if (u < 0.5) this.doConsume();
    else if (u < 0.55) this.doTake();
    else if (u < 0.63) this.doOpen();
    else if (u < 0.69) this.doClose();
    else if (u < 0.75) this.doTick();
    else if (u < 0.995) this.doRead();
    else this.doInit(this.chance(0.5) ? this.badInitArgs() : [4, 1024, 1024, 0]);
    if (this.chance(0.002)) this.stage(this.randomBytes(this.int(this.staging.length + 1)));
  }

  run(calls: number): void {
    let nextSweep = SWEEP_EVERY;
    while (this.calls < calls) {
      this.startEpisode();
      const end = Math.min(calls, this.calls + (this.churn ? 75_000 : 5_000 + this.int(40_000)));
      while (this.calls < end) {
        this.step();
        if (this.calls >= nextSweep) {
          this.sweep();
          nextSweep = this.calls + SWEEP_EVERY;
        }
      }
      this.sweep();
      this.wraps += this.model.wraps;
      if (this.extras) this.optionalCalls += this.calls - this.episodeStart;
      const w = this.model.wide;
      if (w) {
        this.wideModules++;
        this.wideCalls += this.calls - this.episodeStart;
        for (const k of Object.keys(this.wideTotals) as (keyof Fuzzer["wideTotals"])[]) this.wideTotals[k] += w[k];
      }
      const h = this.model.history;
      if (h) {
        this.byCount += h.byCount;
        this.byBytes += h.byBytes;
        this.emptied += h.emptied;
      }
    }
  }
}

it(`${CALLS.toLocaleString("en")} random raw ABI calls each return what the TypeScript model predicts; ` +
  "the core never traps, never grows memory after init, never writes staging or memory outside its arenas, " +
  "and a connection's pending bytes change only through calls on it", () => {
  const fuzz = new Fuzzer(SEED);
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    fuzz.run(CALLS);
  } catch (err) {
    if (err instanceof Failure) throw err;
    // A trap (WebAssembly.RuntimeError) or a bug in this test: either way, say how to replay it.
    const e = err as Error;
    fuzz.fail(`${e.constructor.name}: ${e.message}\n${e.stack}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const cpuSeconds = (user + system) / 1e6;
  const wide = fuzz.wideTotals;
  const rows = [...fuzz.counts].sort((a, b) => a[0].localeCompare(b[0])).map(([name, byStatus]) => {
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    return `  ${name.padEnd(14)} ${String(total).padStart(8)}  ${[...byStatus].map(([k, n]) => `${k} ${n}`).join(", ")}`;
  });
  console.log(`fuzz-abi: seed ${SEED}, ${fuzz.calls} calls in ${fuzz.episode} modules, ${seconds.toFixed(1)} s (${cpuSeconds.toFixed(1)} s of CPU); ` +
    `${fuzz.checks} pending-byte checks, a full sweep every ${SWEEP_EVERY} calls; ${fuzz.keepAlives} connections due at a tick; ` +
    `${fuzz.wraps} generation wraps, ${fuzz.revived} old handles live again after one; ` +
    `${fuzz.optionalCalls} calls in modules with a shape table or history (${fuzz.shapedSent} shaped tapes framed; ${fuzz.keptSent} tapes with kept strings framed; ring evictions: ${fuzz.byCount} for the count, ` +
    `${fuzz.byBytes} for room, ${fuzz.emptied} emptied by a frame too large); ` +
    `${fuzz.wideCalls} calls in ${fuzz.wideModules} modules with a wide region (frames: ${wide.borrowed} borrowed it, ` +
    `${wide.heldByOther} refused while another connection held it, ${wide.ownPending} refused beside their own pending bytes, ` +
    `${wide.tooLarge} too large for it too; given back ${wide.releasedByConsume} times by a consume or take, ${wide.releasedByClose} by a close)` +
    `\n${rows.join("\n")}`);
  expect(fuzz.calls).toBeGreaterThanOrEqual(CALLS);
  expect(fuzz.keptSent).toBeGreaterThan(1000);
  // Every path of the wide region is taken, often (each is in the thousands at the default seed).
  for (const [what, n] of Object.entries(wide)) expect(n, `wide region: ${what}`).toBeGreaterThan(what === "releasedByClose" ? 30 : 100);
});
