// Writes one vector: every call goes to a live engine (V8, the release build) and to a model
// of the README's ABI; they must agree, and the call is recorded with its result. The model
// frames with reference.ts, so recorded bytes are the spec's bytes, not the engine's say-so;
// at the end every connection's whole stream is read back through eventsource-parser and
// JSON.parse and compared with the events the script meant to send.
import { isDeepStrictEqual } from "node:util";
import {
  ABI_VERSION, HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, NO_DATA, RECORD, ALL_FLAGS, MAX_CONNS, MIN_REGION, MAX_REGION,
  MIN_STAGING, ID_MAX, MAX_HISTORY_EVENTS, MAX_SHAPES, STAT_EVENTS, STAT_BYTES_FRAMED, STAT_BYTES_DRAINED, STAT_PENDING,
  STAT_RETRY, STAT_DEADLINE, STAT_HAS_LAST_ID,
} from "../../assembly/abi.js";
import { TapeWriter } from "../../bindings/tape.js";
import { Status } from "../../bindings/errors.js";
import { encodeNum, toHex, type Step, type Vector } from "./format.js";
import {
  commentFrame, concat, frame, jsonImage, KEEP_ALIVE, lines, observe, tapeToJson, utf8,
  type FrameParts, type Observed,
} from "./reference.js";
import { drain, type RawHost } from "./replay.js";

type Bytes = Uint8Array | string;
const bytes = (b: Bytes): Uint8Array => (typeof b === "string" ? utf8(b) : b);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

interface ConnModel {
  handle: number;
  pending: Uint8Array;
  stream: Uint8Array[];
  meant: Observed[];
  events: number;
  framed: number;
  drained: number;
  retry: number;
  deadline: number;
  lastId: Uint8Array | null;
}

export interface SendSpec {
  event?: Bytes;
  id?: Bytes;
  retry?: number;
  /** Text data. */
  text?: Bytes;
  /** A JSON value, staged as its tape. */
  json?: unknown;
  /** A hand-made tape (data flag JSON), and the value it is meant to stand for. */
  tape?: Uint8Array;
  means?: unknown;
  noData?: boolean;
  /** Extra flag bits, and lengths to pass instead of the staged ones. */
  flags?: number;
  lens?: { event?: number; id?: number; data?: number };
  /** The status the script means to provoke (checked against the model). */
  expect?: number;
}

export class Session {
  readonly steps: Step[] = [];
  private ready = false;
  private outBytes = 0;
  private maxConns = 0;
  private stagingCap = 0;
  private keepAlive = 0;
  private now = 0;
  private staging = new Uint8Array(0);
  private readonly conns = new Map<number, ConnModel>();
  private readonly everyConn: ConnModel[] = [];
  private readonly issued = new Set<number>();
  // The history: every frame recorded (since it was last emptied), and how many of the newest
  // the engine keeps. Eviction order inside the ring is the engine's business; the README
  // promises a gap-free run of the newest, within both bounds, which is what is checked.
  // Object shapes: the key lists defined, and the table's bounds.
  private shapes: { max: number; bytes: number; used: number; keys: string[][] } | null = null;
  // The wide region (wide_init): its size, and the connection whose pending bytes are in it.
  private wide: { bytes: number; owner: ConnModel | null } | null = null;
  private history: { maxEvents: number; maxBytes: number; recorded: { id: Uint8Array; frame: Uint8Array }[]; kept: number } | null = null;

  constructor(readonly name: string, readonly about: string, private readonly host: RawHost) {}

  // --- recording ---

  /** Calls the engine, checks it against `want` (number, or "ptr"), records the step. */
  private call(name: string, args: number[], want: number | "ptr" | undefined, stage?: Uint8Array): number {
    if (stage) {
      if (stage.length > this.stagingCap) throw new Error(`${this.name}: ${stage.length} bytes do not fit staging`);
      this.host.write(this.host.call("staging_ptr", []), stage);
      this.staging.set(stage);
    }
    const r = this.host.call(name, args);
    if (want === "ptr" ? !(r > 0) : want !== undefined && !Object.is(r, want)) {
      throw new Error(`${this.name}: ${name}(${args.join(", ")}) gave ${r}, the model says ${want}`);
    }
    const step: Step = { call: name, args: args.map(encodeNum) };
    if (stage) step.stage = toHex(stage);
    if (want !== undefined) step.expect = want === "ptr" ? "ptr" : encodeNum(want);
    this.steps.push(step);
    return r;
  }

  private meant(want: number, expect: number | undefined, what: string): number {
    if (expect !== undefined && expect !== want) throw new Error(`${this.name}: ${what} is meant to give ${expect}, the model says ${want}`);
    return want;
  }

  // --- lifecycle ---

  abiVersion(): number {
    return this.call("abi_version", [], ABI_VERSION);
  }

  init(maxConns: number, outBytes: number, stagingBytes: number, keepAliveMs: number, expect?: number): number {
    let want = 0;
    if (this.ready) want = Status.ALREADY_INIT;
    else if (!(maxConns >= 1 && maxConns <= MAX_CONNS && outBytes >= MIN_REGION && outBytes <= MAX_REGION &&
      stagingBytes >= MIN_STAGING && stagingBytes <= MAX_REGION && keepAliveMs >= 0 && keepAliveMs < Infinity)) want = Status.BAD_ARG;
    // Whether memory suffices is the one thing the model cannot know: the script says so.
    if (want === 0 && expect === Status.NO_MEMORY) want = Status.NO_MEMORY;
    this.meant(want, expect, "init");
    const r = this.call("init", [maxConns, outBytes, stagingBytes, keepAliveMs], want);
    if (r === 0) {
      this.ready = true;
      this.maxConns = maxConns;
      this.outBytes = outBytes;
      this.stagingCap = stagingBytes;
      this.keepAlive = keepAliveMs;
      this.staging = new Uint8Array(stagingBytes);
    }
    return r;
  }

  stagingPtr(): void {
    this.call("staging_ptr", [], this.ready ? "ptr" : Status.NOT_INIT);
  }

  stagingCapCall(): void {
    this.call("staging_cap", [], this.ready ? this.stagingCap : Status.NOT_INIT);
  }

  /** Opens a connection with Last-Event-ID `lastId` (none if null); `len` overrides the length passed. */
  open(lastId: Bytes | null = null, opts: { len?: number; expect?: number } = {}): number {
    const id = lastId === null ? null : bytes(lastId);
    const len = opts.len ?? (id ? id.length : -1);
    let want = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (len < -1 || len > this.stagingCap) want = Status.BAD_ARG;
    else if (len >= 0 && hasAny(this.stagedWith(id, 0, len), [0x0a, 0x0d, 0x00])) want = Status.ID;
    else if (len > ID_MAX) want = Status.ID_TOO_LONG;
    else if (this.conns.size === this.maxConns) want = Status.CAPACITY;
    this.meant(want, opts.expect, "conn_open");
    const h = this.call("conn_open", [len], want === 0 ? undefined : want, this.ready && id ? id : undefined);
    if (want !== 0) return h;
    // Handles are positive and never repeat (a closed slot's next handle is a new generation).
    if (!(h > 0) || this.issued.has(h)) throw new Error(`${this.name}: conn_open gave handle ${h} again or invalid`);
    this.steps[this.steps.length - 1] = { ...this.steps[this.steps.length - 1]!, expect: h } as Step;
    this.issued.add(h);
    const c: ConnModel = {
      handle: h, pending: new Uint8Array(0), stream: [], meant: [], events: 0, framed: 0, drained: 0, retry: -1,
      deadline: this.keepAlive > 0 ? this.now + this.keepAlive : Infinity,
      lastId: len >= 0 ? this.staging.slice(0, len) : null,
    };
    this.conns.set(h, c);
    this.everyConn.push(c);
    return h;
  }

  close(h: number): void {
    const want = this.misuse(h) ?? 0;
    this.call("conn_close", [h], want);
    if (want !== 0) return;
    this.release(this.conns.get(h)!);
    this.conns.delete(h);
  }

  state(h: number): void {
    this.call("conn_state", [h], this.misuse(h) ?? 1);
  }

  openCount(): void {
    this.call("open_count", [], this.ready ? this.conns.size : Status.NOT_INIT);
  }

  stat(h: number, which: number): void {
    const c = this.conns.get(h);
    let want = NaN;
    if (this.ready && c) {
      const stats: Record<number, number> = {
        [STAT_EVENTS]: c.events, [STAT_BYTES_FRAMED]: c.framed, [STAT_BYTES_DRAINED]: c.drained, [STAT_PENDING]: c.pending.length,
        [STAT_RETRY]: c.retry, [STAT_DEADLINE]: c.deadline, [STAT_HAS_LAST_ID]: c.lastId ? 1 : 0,
      };
      const v = stats[which];
      if (v !== undefined) want = v;
    }
    this.call("conn_stat", [h, which], want);
  }

  /** last_id_len, then the bytes at last_id_ptr. */
  lastId(h: number): void {
    const bad = this.misuse(h);
    const c = this.conns.get(h);
    this.call("last_id_len", [h], bad ?? c!.lastId?.length ?? 0);
    this.call("last_id_ptr", [h], bad ?? "ptr");
    if (bad !== undefined) return;
    this.read(["last_id_ptr", [h]], ["last_id_len", [h]], c!.lastId ?? new Uint8Array(0));
  }

  // --- framing ---

  send(h: number, s: SendSpec): number {
    const ev = s.event === undefined ? undefined : bytes(s.event);
    const id = s.id === undefined ? undefined : bytes(s.id);
    let data: Uint8Array | undefined;
    let flags = s.flags ?? 0;
    if (ev) flags |= HAS_EVENT;
    if (id) flags |= HAS_ID;
    if (s.retry !== undefined) flags |= HAS_RETRY;
    if (s.noData) flags |= NO_DATA;
    if (s.text !== undefined) data = bytes(s.text);
    if (s.tape) data = s.tape;
    if (s.json !== undefined) data = tapeOf(s.json);
    if (s.json !== undefined || s.tape) flags |= DATA_JSON;
    const evLen = s.lens?.event ?? ev?.length ?? 0;
    const idLen = s.lens?.id ?? id?.length ?? 0;
    const dataLen = s.lens?.data ?? data?.length ?? 0;
    const stage = concat([ev ?? new Uint8Array(0), id ?? new Uint8Array(0), data ?? new Uint8Array(0)]);
    const retry = s.retry ?? 0;
    const args = [h, flags, evLen, idLen, dataLen, retry];

    const staged = this.ready && stage.length <= this.stagingCap ? this.stagedWith(stage, 0, this.stagingCap) : this.staging;
    let want: number | undefined = this.misuse(h);
    let parts: FrameParts = {};
    if (want === undefined) {
      const e = flags & HAS_EVENT ? evLen : 0;
      const i = flags & HAS_ID ? idLen : 0;
      const d = flags & NO_DATA ? 0 : dataLen;
      // A field the flags leave out must come with length 0 (ABI 5).
      const absentLen = (!(flags & HAS_EVENT) && evLen !== 0) || (!(flags & HAS_ID) && idLen !== 0) || (flags & NO_DATA && dataLen !== 0);
      const cap = this.stagingCap;
      const evB = staged.subarray(0, Math.max(e, 0));
      const idB = staged.subarray(e, e + Math.max(i, 0));
      const dataB = staged.subarray(e + i, e + i + Math.max(d, 0));
      let json: string | undefined;
      if (flags & ~ALL_FLAGS || absentLen || e < 0 || i < 0 || d < 0 || e > cap || i > cap - e || d > cap - e - i) want = Status.BAD_ARG;
      else if (flags & HAS_EVENT && hasAny(evB, [0x0a, 0x0d])) want = Status.EVENT_NAME;
      else if (flags & HAS_ID && hasAny(idB, [0x0a, 0x0d, 0x00])) want = Status.ID;
      else if (flags & HAS_ID && i > ID_MAX) want = Status.ID_TOO_LONG;
      else if (flags & HAS_RETRY && !(Number.isInteger(retry) && retry >= 0 && retry <= Number.MAX_SAFE_INTEGER)) want = Status.RETRY;
      else if (flags & RECORD && (!(flags & HAS_ID) || !this.history)) want = Status.BAD_ARG;
      else if (!(flags & NO_DATA) && flags & DATA_JSON && (json = tapeToJson(dataB, this.shapes?.keys, staged)) === undefined) want = Status.BAD_TAPE;
      if (want === undefined) {
        parts = {
          ...(flags & HAS_EVENT ? { event: evB.slice() } : {}),
          ...(flags & HAS_ID ? { id: idB.slice() } : {}),
          ...(flags & HAS_RETRY ? { retry } : {}),
          ...(flags & NO_DATA ? {} : { data: json !== undefined ? { json } : { text: dataB.slice() } }),
        };
        const value = s.json !== undefined ? s.json : s.means;
        if (value !== undefined && json !== JSON.stringify(value)) throw new Error(`${this.name}: tape of ${JSON.stringify(value)} reads back as ${json}`);
        want = this.fit(h, frame(parts).length);
      }
    }
    this.meant(want, s.expect, "send");
    const r = this.call("send", args, want, this.ready ? stage : undefined);
    if (r >= 0) {
      const c = this.conns.get(h)!;
      this.commit(c, frame(parts), true);
      if (parts.id) c.lastId = parts.id;
      if (flags & RECORD) this.recorded(parts.id!, frame(parts));
      if (parts.retry !== undefined) {
        c.retry = parts.retry;
        c.meant.push({ kind: "retry", ms: parts.retry + 0 }); // the reader parses digits: -0 is 0
      }
      if (parts.data) {
        const text = "json" in parts.data ? parts.data.json : lines(parts.data.text).map(decode).join("\n");
        const event = parts.event?.length ? decode(parts.event) : "message";
        c.meant.push({ kind: "event", event, id: parts.id && decode(parts.id), data: text });
        const value = s.json !== undefined ? s.json : s.means;
        if (value !== undefined && !isDeepStrictEqual(JSON.parse(text), jsonImage(value))) {
          throw new Error(`${this.name}: ${text} does not parse back to the value sent`);
        }
      }
    }
    return r;
  }

  comment(h: number, text: Bytes, opts: { len?: number; expect?: number } = {}): number {
    const b = bytes(text);
    const len = opts.len ?? b.length;
    let want = this.misuse(h);
    if (want === undefined) want = len < 0 || len > this.stagingCap ? Status.BAD_ARG : this.fit(h, commentFrame(b).length);
    this.meant(want, opts.expect, "comment");
    const r = this.call("comment", [h, len], want, this.ready && b.length <= this.stagingCap ? b : undefined);
    if (r >= 0) {
      const c = this.conns.get(h)!;
      this.commit(c, commentFrame(b), false);
      for (const l of lines(b)) c.meant.push({ kind: "comment", text: decode(l) });
    }
    return r;
  }

  /**
   * The frame's length if it fits the space the connection holds, or else the wide region it
   * may take (it has nothing pending, and the region is free and large enough); otherwise
   * TOO_LARGE if it is larger than both outBytes and the wide region, NO_SPACE if not.
   */
  private fit(h: number, n: number): number {
    const c = this.conns.get(h)!;
    if (n <= this.free(c)) return n;
    const w = this.wide;
    if (w && w.owner === null && c.pending.length === 0 && n <= w.bytes) return n;
    return n > this.outBytes && n > (w?.bytes ?? 0) ? Status.TOO_LARGE : Status.NO_SPACE;
  }

  /** Free bytes in the space the connection holds: the wide region's while it owns it, else its own. */
  private free(c: ConnModel): number {
    return (this.wide?.owner === c ? this.wide.bytes : this.outBytes) - c.pending.length;
  }

  /** Gives the wide region back once the connection that holds it has nothing pending, or closes. */
  private release(c: ConnModel): void {
    if (this.wide?.owner === c) this.wide.owner = null;
  }

  private commit(c: ConnModel, b: Uint8Array, isEvent: boolean): void {
    // A frame past the space it holds is one fit() let into the wide region.
    if (b.length > this.free(c)) this.wide!.owner = c;
    c.pending = concat([c.pending, b]);
    c.stream.push(b);
    c.framed += b.length;
    if (isEvent) c.events++;
    if (this.keepAlive > 0) c.deadline = this.now + this.keepAlive;
  }

  // --- the wide region ---

  wideInit(bytes: number, expect?: number): number {
    let want = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (this.wide) want = Status.ALREADY_INIT;
    else if (!(bytes > this.outBytes && bytes <= MAX_REGION)) want = Status.BAD_ARG;
    else if (expect === Status.NO_MEMORY) want = Status.NO_MEMORY;
    this.meant(want, expect, "wide_init");
    const r = this.call("wide_init", [bytes], want);
    if (r === 0) this.wide = { bytes, owner: null };
    return r;
  }

  // --- history ---

  historyInit(maxEvents: number, maxBytes: number, expect?: number): number {
    let want = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (this.history) want = Status.ALREADY_INIT;
    else if (!(maxEvents >= 1 && maxEvents <= MAX_HISTORY_EVENTS && maxBytes >= MIN_REGION && maxBytes <= MAX_REGION)) want = Status.BAD_ARG;
    else if (expect === Status.NO_MEMORY) want = Status.NO_MEMORY;
    this.meant(want, expect, "history_init");
    const r = this.call("history_init", [maxEvents, maxBytes], want);
    if (r === 0) this.history = { maxEvents, maxBytes, recorded: [], kept: 0 };
    return r;
  }

  /** After a recorded send: the engine's count must describe a run of the newest frames within both bounds. */
  private recorded(id: Uint8Array, f: Uint8Array): void {
    const h = this.history!;
    if (id.length + f.length > h.maxBytes) {
      h.recorded = []; // larger than the whole ring: emptied rather than leave a gap
    } else {
      h.recorded.push({ id, frame: f });
    }
    const n = this.host.call("history_count", []);
    const newest = h.recorded.slice(h.recorded.length - n);
    const bytes = newest.reduce((t, e) => t + e.id.length + e.frame.length, 0);
    const ok = h.recorded.length === 0 ? n === 0 : n >= 1 && n <= h.kept + 1 && n <= h.maxEvents && n <= h.recorded.length && bytes <= h.maxBytes;
    if (!ok) throw new Error(`${this.name}: history_count ${n} is not a run of the newest frames within bounds`);
    h.kept = n;
    this.call("history_count", [], n);
  }

  historyCount(): void {
    this.call("history_count", [], this.ready ? this.history?.kept ?? 0 : Status.NOT_INIT);
  }

  /** history_find for `id`: the newest kept frame with that id, or ID_UNKNOWN. */
  historyFind(id: Bytes, opts: { len?: number; expect?: number } = {}): number {
    const b = bytes(id);
    const len = opts.len ?? b.length;
    let want: number = Status.NOT_INIT;
    if (this.ready) {
      if (len < 0 || len > this.stagingCap) want = Status.BAD_ARG;
      else {
        const kept = this.kept();
        const key = toHex(this.stagedWith(b, 0, len));
        want = Status.ID_UNKNOWN;
        kept.forEach((e, i) => { if (toHex(e.id) === key) want = i; });
      }
    }
    this.meant(want, opts.expect, "history_find");
    return this.call("history_find", [len], want, this.ready && b.length <= this.stagingCap ? b : undefined);
  }

  // --- shapes ---

  shapeInit(maxShapes: number, maxBytes: number, expect?: number): number {
    let want = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (this.shapes) want = Status.ALREADY_INIT;
    else if (!(maxShapes >= 1 && maxShapes <= MAX_SHAPES && maxBytes >= MIN_REGION && maxBytes <= MAX_REGION)) want = Status.BAD_ARG;
    else if (expect === Status.NO_MEMORY) want = Status.NO_MEMORY;
    this.meant(want, expect, "shape_init");
    const r = this.call("shape_init", [maxShapes, maxBytes], want);
    if (r === 0) this.shapes = { max: maxShapes, bytes: maxBytes, used: 0, keys: [] };
    return r;
  }

  /**
   * shape_define of a key list staged at `at` (u32 count, then each key as a tape string);
   * `keys` is what the list means, or undefined for a malformed list.
   */
  shapeDefine(list: Uint8Array, keys: string[] | undefined, opts: { at?: number; len?: number; expect?: number } = {}): number {
    const at = opts.at ?? 0;
    const len = opts.len ?? list.length;
    const sh = this.shapes;
    let want: number;
    let size = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (!sh) want = Status.BAD_ARG;
    else if (at < 0 || len < 0 || at > this.stagingCap || len > this.stagingCap - at) want = Status.BAD_ARG;
    else if (sh.keys.length === sh.max) want = Status.CAPACITY;
    else if (!keys) want = Status.BAD_TAPE;
    else {
      // The entry: u32 count, then per key a u32 length and its `"key":` bytes.
      size = 4 + keys.reduce((n, k) => n + 4 + utf8(`${JSON.stringify(k)}:`).length, 0);
      want = size > sh.bytes - sh.used ? Status.CAPACITY : sh.keys.length;
    }
    this.meant(want, opts.expect, "shape_define");
    const stage = concat([new Uint8Array(Math.max(at, 0)), list]);
    const r = this.call("shape_define", [at, len], want, this.ready && stage.length <= this.stagingCap ? stage : undefined);
    if (r >= 0) {
      sh!.keys.push(keys!);
      sh!.used += size;
    }
    return r;
  }

  /** history_ptr and history_len at position i, then the frame's bytes. */
  historyFrame(i: number): void {
    const kept = this.kept();
    const bad = !this.ready ? Status.NOT_INIT : i >= 0 && i < kept.length ? undefined : Status.BAD_ARG;
    this.call("history_len", [i], bad ?? kept[i]!.frame.length);
    this.call("history_ptr", [i], bad ?? "ptr");
    if (bad === undefined) this.read(["history_ptr", [i]], ["history_len", [i]], kept[i]!.frame);
  }

  private kept(): { id: Uint8Array; frame: Uint8Array }[] {
    const h = this.history;
    return h ? h.recorded.slice(h.recorded.length - h.kept) : [];
  }

  // --- draining ---

  outLen(h: number): void {
    this.call("out_len", [h], this.misuse(h) ?? this.conns.get(h)!.pending.length);
  }

  outPtr(h: number): void {
    this.call("out_ptr", [h], this.misuse(h) ?? "ptr");
  }

  consume(h: number, n: number, expect?: number): void {
    const c = this.conns.get(h);
    let want = this.misuse(h);
    if (want === undefined) want = n < 0 || n > c!.pending.length ? Status.BAD_ARG : 0;
    this.meant(want, expect, "out_consume");
    this.call("out_consume", [h, n], want);
    if (want === 0) this.take(c!, n);
  }

  /** Drains in pieces of `chunks` (cycled), at most `max` bytes; the bytes must be the model's. */
  drain(h: number, chunks: number[], max = Infinity): void {
    const c = this.conns.get(h)!;
    const n = Math.min(max, c.pending.length);
    const want = toHex(c.pending.subarray(0, n));
    const got = drain(this.host, h, chunks, max, this.name);
    if (got !== want) throw new Error(`${this.name}: drained\n${got}\nthe spec says\n${want}`);
    this.take(c, n);
    this.steps.push({ drain: h, chunks, ...(max < Infinity ? { max } : {}), expect: want });
  }

  /** out_ptr and out_len, then the pending bytes there, left pending. */
  pending(h: number): void {
    this.outLen(h);
    this.outPtr(h);
    this.read(["out_ptr", [h]], ["out_len", [h]], this.conns.get(h)!.pending);
  }

  private take(c: ConnModel, n: number): void {
    c.pending = c.pending.slice(n);
    c.drained += n;
    if (c.pending.length === 0) this.release(c);
  }

  // --- time ---

  tick(now: number): number {
    let want = 0;
    const due: ConnModel[] = [];
    if (!this.ready) want = Status.NOT_INIT;
    else if (!(now >= 0 && now < Infinity)) want = Status.BAD_ARG;
    else {
      this.now = now;
      if (this.keepAlive > 0) {
        // Due connections, in slot order (the low 16 bits of a handle are its slot).
        for (const c of this.conns.values()) if (c.deadline <= now) due.push(c);
        due.sort((a, b) => (a.handle & 0xffff) - (b.handle & 0xffff));
        // A connection whose space is full gets no keep-alive (its peer is not reading), and is not listed.
        want = due.filter((c) => this.free(c) >= KEEP_ALIVE.length).length;
      }
    }
    this.call("tick", [now], want);
    for (const c of [...due]) {
      if (this.free(c) >= KEEP_ALIVE.length) {
        this.commit(c, KEEP_ALIVE, false);
        c.meant.push({ kind: "comment", text: "" });
      } else {
        c.deadline = this.now + this.keepAlive;
        due.splice(due.indexOf(c), 1);
      }
    }
    if (due.length) {
      const list = new Uint8Array(due.length * 4);
      due.forEach((c, i) => new DataView(list.buffer).setInt32(i * 4, c.handle, true));
      this.read(["due_ptr", []], due.length * 4, list);
    }
    return want;
  }

  /** set_now: the clock moves, nothing is looked at. */
  setNow(now: number): number {
    let want = 0;
    if (!this.ready) want = Status.NOT_INIT;
    else if (!(now >= 0 && now < Infinity)) want = Status.BAD_ARG;
    else this.now = now;
    this.call("set_now", [now], want);
    return want;
  }

  /** conn_touch: the keep-alive restarts from the clock, as if bytes had been framed. */
  touch(h: number): number {
    const want = this.misuse(h) ?? 0;
    if (want === 0 && this.keepAlive > 0) this.conns.get(h)!.deadline = this.now + this.keepAlive;
    this.call("conn_touch", [h], want);
    return want;
  }

  dueCall(): void {
    this.call("due_ptr", [], this.ready ? "ptr" : Status.NOT_INIT);
  }

  nextDeadline(): void {
    let want = Status.NOT_INIT as number;
    if (this.ready) want = Math.min(Infinity, ...[...this.conns.values()].map((c) => c.deadline));
    this.call("next_deadline", [], want);
  }

  /** Any export, with the model's answer given by the script (for calls the model has no state for). */
  raw(name: string, args: number[], want: number | "ptr"): void {
    this.call(name, args, want);
  }

  private read(ptr: [string, number[]], len: number | [string, number[]], want: Uint8Array): void {
    const p = this.host.call(ptr[0], ptr[1]);
    const n = typeof len === "number" ? len : this.host.call(len[0], len[1]);
    const got = toHex(this.host.read(p, n));
    if (got !== toHex(want)) throw new Error(`${this.name}: read ${got} at ${ptr[0]}, the model says ${toHex(want)}`);
    this.steps.push({ read: ptr, len, expect: got });
  }

  // --- helpers ---

  /** UNKNOWN_CONN / NOT_INIT for a handle that names no open connection, else undefined. */
  private misuse(h: number): number | undefined {
    if (!this.ready) return Status.NOT_INIT;
    return this.conns.has(h) ? undefined : Status.UNKNOWN_CONN;
  }

  /** Staging as it will be once `b` is written at 0, viewed over [from, to). */
  private stagedWith(b: Uint8Array | null, from: number, to: number): Uint8Array {
    const s = this.staging.slice();
    if (b) s.set(b.subarray(0, Math.min(b.length, s.length)));
    return s.subarray(from, to);
  }

  /** Checks every stream against what the script meant, and returns the vector. */
  finish(mcu: Vector["mcu"] = "replay"): Vector {
    for (const c of this.everyConn) {
      const stream = concat(c.stream);
      for (const chunks of [[stream.length || 1], [1], [3, 7, 2]]) {
        const seen = observe(stream, chunks);
        if (!isDeepStrictEqual(seen, c.meant)) {
          throw new Error(`${this.name}: connection ${c.handle} reads as\n${JSON.stringify(seen)}\nbut meant\n${JSON.stringify(c.meant)}`);
        }
      }
    }
    return { name: this.name, about: this.about, mcu, steps: this.steps };
  }
}

function hasAny(b: Uint8Array, set: number[]): boolean {
  return b.some((x) => set.includes(x));
}

/** The value tape the bindings would stage for `v`. */
export function tapeOf(v: unknown): Uint8Array {
  const buf = new ArrayBuffer(1 << 20);
  const n = new TapeWriter(buf).write(v, 0, buf.byteLength);
  if (n < 0) throw new Error("no JSON form");
  return new Uint8Array(buf, 0, n).slice();
}
