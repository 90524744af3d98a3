// The call scripts behind the vectors, by category. Each names what it means to provoke; the
// session checks the engine and the model agree, and the streams read back as intended.
import {
  ABI_VERSION, HAS_EVENT, HAS_ID, HAS_RETRY, DATA_JSON, RECORD, ALL_FLAGS, MAX_CONNS, MIN_REGION, MAX_REGION, MIN_STAGING,
  MAX_HISTORY_EVENTS, MAX_SHAPES, STAT_EVENTS, STAT_BYTES_FRAMED, STAT_BYTES_DRAINED, STAT_PENDING, STAT_RETRY, STAT_DEADLINE,
  STAT_HAS_LAST_ID, TAG_NULL, TAG_TRUE, TAG_NUMBER, TAG_STR8, TAG_STR16, TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT, TAG_OBJECT_END,
  TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS,
} from "../../assembly/abi.js";
import { Status } from "../../bindings/errors.js";
import { Session, tapeOf, type SendSpec } from "./session.js";
import { utf8 } from "./reference.js";
import { rng } from "../support/wasm.js";

export interface Script {
  name: string;
  about: string;
  run(s: Session): void;
}

const rand = rng(0x5ee5eed);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const STD = [4, 1024, 1024, 0] as const;
const init = (s: Session, c = STD): void => void s.init(c[0], c[1], c[2], c[3]);
const bytesOf = (...xs: number[]): Uint8Array => new Uint8Array(xs);

/** After a refusal: nothing was written and nothing counted; a good send still works. */
function unchanged(s: Session, h: number): void {
  s.outLen(h);
  s.stat(h, STAT_EVENTS);
  s.stat(h, STAT_BYTES_FRAMED);
  s.send(h, { text: "still fine" });
  s.drain(h, [5]);
}

const EXPORTS: [string, number[]][] = [
  ["abi_version", []], ["init", [1, 16, 256, 0]], ["staging_ptr", []], ["staging_cap", []], ["conn_open", [-1]],
  ["conn_close", [65536]], ["conn_state", [65536]], ["conn_stat", [65536, 0]], ["last_id_len", [65536]],
  ["last_id_ptr", [65536]], ["open_count", []], ["send", [65536, 0, 0, 0, 1, 0]], ["comment", [65536, 1]],
  ["out_ptr", [65536]], ["out_len", [65536]], ["out_consume", [65536, 0]], ["out_take", [65536]], ["taken_ptr", []],
  ["tick", [0]], ["due_ptr", []],
  ["next_deadline", []], ["history_init", [4, 256]], ["history_count", []], ["history_find", [0]], ["history_ptr", [0]],
  ["history_len", [0]], ["shape_init", [4, 256]], ["shape_define", [0, 4]], ["set_now", [0]], ["conn_touch", [65536]],
  ["wide_init", [4096]],
];

function abi(): Script[] {
  const out: Script[] = [{
    name: "version", about: `abi_version is ${ABI_VERSION} before and after init`,
    run: (s) => { s.abiVersion(); init(s); s.abiVersion(); },
  }];
  for (const [name, args] of EXPORTS) {
    if (name === "init" || name === "abi_version") continue;
    const want = name === "conn_stat" ? NaN : Status.NOT_INIT;
    out.push({
      name: `before-init/${name}`, about: `${name} before init is NOT_INIT (conn_stat: NaN) and changes nothing`,
      run: (s) => { s.raw(name, args, want); init(s); s.openCount(); s.stagingCapCall(); },
    });
  }
  return out;
}

const GOOD_CONFIGS: [number, number, number, number][] = [
  [1, 16, 256, 0], [1, 64, 256, 0], [4, 1024, 1024, 0], [4, 16384, 4096, 0], [4, 24576, 4096, 15000],
  [16, 4096, 8192, 30000], [64, 1024, 2048, 15000], [100, 512, 256, 1], [300, 16, 256, 0],
  [1, 65536, 262144, 0], [1024, 4096, 16640, 0], [2, 100000, 300, 2.5],
];
const BAD_CONFIGS: [string, [number, number, number, number]][] = [
  ["zero-conns", [0, 1024, 1024, 0]], ["negative-conns", [-1, 1024, 1024, 0]], ["too-many-conns", [MAX_CONNS + 1, 16, 256, 0]],
  ["out-15", [1, MIN_REGION - 1, 256, 0]], ["out-negative", [1, -16, 256, 0]], ["out-over-1GiB", [1, MAX_REGION + 1, 256, 0]],
  ["staging-255", [1, 16, MIN_STAGING - 1, 0]], ["staging-over-1GiB", [1, 16, MAX_REGION + 1, 0]], ["staging-negative", [1, 16, -256, 0]],
  ["keepalive-negative", [1, 16, 256, -1]], ["keepalive-nan", [1, 16, 256, NaN]], ["keepalive-infinity", [1, 16, 256, Infinity]],
];

function initScripts(): Script[] {
  const out: Script[] = GOOD_CONFIGS.map(([c, o, st, ka]) => ({
    name: `config/${c}x${o}+${st}@${ka}`, about: `init(${c}, ${o}, ${st}, ${ka}) carves its regions; one event goes through`,
    run: (s) => {
      s.init(c, o, st, ka);
      s.stagingCapCall();
      s.stagingPtr();
      s.openCount();
      s.nextDeadline();
      const h = s.open();
      s.send(h, { text: "ok" });
      s.drain(h, [3]);
      s.nextDeadline();
    },
  }));
  for (const [name, cfg] of BAD_CONFIGS) {
    out.push({
      name: `refused/${name}`, about: `init(${cfg.join(", ")}) is BAD_ARG and leaves the engine uninitialised`,
      run: (s) => { s.init(...cfg, Status.BAD_ARG); s.stagingCapCall(); s.openCount(); init(s); s.stagingCapCall(); },
    });
  }
  out.push(
    {
      name: "twice", about: "a second init is ALREADY_INIT, whatever its config, and changes nothing",
      run: (s) => { init(s); s.init(8, 64, 512, 100, Status.ALREADY_INIT); s.init(4, 1024, 1024, 0, Status.ALREADY_INIT); s.stagingCapCall(); s.nextDeadline(); },
    },
    {
      name: "twice-after-refusal", about: "a refused init does not count: the next one succeeds, the one after is ALREADY_INIT",
      run: (s) => { s.init(0, 16, 256, 0, Status.BAD_ARG); init(s); s.init(...STD, Status.ALREADY_INIT); },
    },
    {
      name: "no-memory/huge", about: "65535 connections of 1 GiB do not fit any wasm32 memory: NO_MEMORY, then a fitting init works",
      run: (s) => { s.init(65535, 2 ** 30, 2 ** 30, 0, Status.NO_MEMORY); s.stagingCapCall(); init(s); s.stagingCapCall(); },
    },
    {
      name: "no-memory/past-2GiB", about: "two 1 GiB connections pass 2^31: NO_MEMORY",
      run: (s) => { s.init(2, 2 ** 30, 256, 0, Status.NO_MEMORY); s.openCount(); init(s); s.openCount(); },
    },
  );
  return out;
}

const LAST_IDS: [string, Uint8Array | string][] = [
  ["empty", ""], ["digits", "42"], ["unicode", "évènement-ü-✓"], ["spaces", " padded id "], ["max-256", "i".repeat(256)],
  ["colon", "a:b"], ["high-bytes", bytesOf(0xff, 0xfe, 0x41)],
];
const BAD_LAST_IDS: [string, Uint8Array | string, number][] = [
  ["lf", "1\n2", Status.ID], ["cr", "\r", Status.ID], ["nul", "a\0b", Status.ID], ["257-bytes", "j".repeat(257), Status.ID_TOO_LONG],
  ["300-bytes-with-lf", "k".repeat(299) + "\n", Status.ID], ["crlf", "x\r\n", Status.ID],
];

function open(): Script[] {
  const out: Script[] = [{
    name: "no-last-id", about: "without Last-Event-ID: last_id_len 0 and conn_stat 6 says none",
    run: (s) => { init(s); const h = s.open(); s.state(h); s.lastId(h); s.stat(h, STAT_HAS_LAST_ID); s.openCount(); },
  }];
  for (const [name, id] of LAST_IDS) {
    out.push({
      name: `last-id/${name}`, about: "Last-Event-ID is remembered until an event sends an id, which replaces it",
      run: (s) => {
        init(s);
        const h = s.open(id);
        s.lastId(h);
        s.stat(h, STAT_HAS_LAST_ID);
        s.send(h, { text: "no id here" });
        s.lastId(h);
        s.send(h, { id: "next", text: "with id" });
        s.lastId(h);
        s.drain(h, [11]);
      },
    });
  }
  for (const [name, id, code] of BAD_LAST_IDS) {
    out.push({
      name: `refused/${name}`, about: `a Last-Event-ID with ${name} is refused (${code}); no slot is taken`,
      run: (s) => { init(s); s.open(id, { expect: code }); s.openCount(); const h = s.open("fine"); s.lastId(h); },
    });
  }
  out.push(
    { name: "refused/len-minus-2", about: "lastIdLen below -1 is BAD_ARG", run: (s) => { init(s); s.open(null, { len: -2, expect: Status.BAD_ARG }); s.openCount(); } },
    { name: "refused/len-past-staging", about: "lastIdLen past staging is BAD_ARG", run: (s) => { init(s); s.open(null, { len: 1025, expect: Status.BAD_ARG }); s.openCount(); } },
  );
  for (const cap of [1, 3, 8]) {
    out.push({
      name: `capacity/${cap}`, about: `with ${cap} slots the next open is CAPACITY; closing one frees a slot for a new handle`,
      run: (s) => {
        s.init(cap, 64, 256, 0);
        const hs = Array.from({ length: cap }, () => s.open());
        s.open(null, { expect: Status.CAPACITY });
        s.openCount();
        s.close(hs[cap >> 1]!);
        s.openCount();
        const h = s.open("back");
        s.lastId(h);
        s.open(null, { expect: Status.CAPACITY });
        s.state(hs[cap >> 1]!);
      },
    });
  }
  out.push({
    name: "generations", about: "one slot opened and closed 60 times: every handle is new; old ones stay dead",
    run: (s) => {
      s.init(1, 64, 256, 0);
      const old: number[] = [];
      for (let i = 0; i < 60; i++) {
        const h = s.open();
        if (i % 10 === 0) for (const o of old.slice(-3)) s.state(o);
        s.send(h, { text: `gen ${i}` });
        if (i % 2) s.drain(h, [7]);
        s.close(h);
        old.push(h);
      }
      s.openCount();
    },
  });
  return out;
}

const TEXTS: [string, Uint8Array | string][] = [
  ["empty", ""], ["one-char", "x"], ["words", "hello world"], ["lf", "a\nb"], ["crlf", "a\r\nb"], ["cr", "a\rb"],
  ["blank-line", "a\n\nb"], ["only-lf", "\n"], ["only-crlf", "\r\n"], ["only-cr", "\r"], ["cr-cr-lf-lf", "\r\r\n\n"],
  ["trailing-lf", "trailing\n"], ["leading-space", " leading space"], ["two-spaces", "  two"], ["fake-data", "data: fake"],
  ["fake-event", "x\nevent: evil\nid: 666"], ["colon-start", ":not a comment"], ["tab", "tab\tsep"], ["nul", "nul\0in"],
  ["unicode", "ünïcödé ✓ 🎉 中文"], ["invalid-utf8", bytesOf(0xff, 0x0a, 0xc3, 0x28, 0x80)], ["long-line", "L".repeat(700)],
  ["many-lines", Array.from({ length: 60 }, (_, i) => `line ${i}`).join("\n")],
  ["mixed-breaks", "a\rb\nc\r\nd\n\re"], ["bom-inside", "x\ufeffy"], ["eight-byte-runs", "12345678\n12345678abcdefgh\r"],
];

function sendText(): Script[] {
  return TEXTS.map(([name, text], i) => ({
    name: `text/${name}`, about: "text data: one `data: ` line per line; CRLF, CR and LF each end one line",
    run: (s) => {
      s.init(2, 2048, 1024, 0);
      const h = s.open();
      s.send(h, { text });
      if (i % 2) s.send(h, { event: "e" + i, id: String(i), text });
      s.drain(h, [1 + (i % 5)]);
      s.stat(h, STAT_EVENTS);
    },
  }));
}

function sendFields(): Script[] {
  const out: Script[] = [];
  for (let flags = 0; flags < RECORD; flags++) {
    out.push({
      name: `flags/${flags}`, about: `flags ${flags}: fields in the order event, id, retry, data`,
      run: (s) => {
        init(s);
        const h = s.open();
        const json = flags & DATA_JSON;
        s.send(h, {
          flags,
          ...(flags & HAS_EVENT ? { event: "update" } : {}),
          ...(flags & HAS_ID ? { id: "7" } : {}),
          ...(flags & HAS_RETRY ? { retry: 2500 } : {}),
          ...(json ? { tape: tapeOf({ n: 1, s: "two" }) } : { text: "payload" }),
        });
        s.drain(h, [4]);
        s.lastId(h);
        s.stat(h, STAT_RETRY);
      },
    });
  }
  const events: [string, string | Uint8Array][] = [
    ["empty", ""], ["message", "message"], ["space", "a b"], ["unicode", "ünï✓"], ["300-bytes", "e".repeat(300)],
    ["colon", ":colon"], ["nul", "a\0b"], ["tab", "\t"],
  ];
  for (const [name, event] of events) {
    out.push({ name: `event/${name}`, about: "event names may hold any byte but CR and LF", run: (s) => { init(s); const h = s.open(); s.send(h, { event, text: "d" }); s.drain(h, [9]); } });
  }
  const ids: [string, string][] = [["empty", ""], ["zero", "0"], ["256", "x".repeat(256)], ["unicode", "ид-✓"], ["spaces", " a b "]];
  for (const [name, id] of ids) {
    out.push({ name: `id/${name}`, about: "ids up to 256 bytes are sent and remembered; an empty id resets", run: (s) => { init(s); const h = s.open("prior"); s.send(h, { id, text: "d" }); s.lastId(h); s.stat(h, STAT_HAS_LAST_ID); s.drain(h, [64]); } });
  }
  for (const retry of [0, 1, 3000, 2 ** 31, Number.MAX_SAFE_INTEGER, -0]) {
    out.push({ name: `retry/${Object.is(retry, -0) ? "minus-zero" : retry}`, about: "retry is a non-negative integer below 2^53", run: (s) => { init(s); const h = s.open(); s.send(h, { retry, noData: true }); s.stat(h, STAT_RETRY); s.send(h, { retry, text: "x" }); s.drain(h, [2]); } });
  }
  out.push({
    name: "lengths-of-absent-fields", about: "a field the flags leave out must have length 0 (ABI 5): any other is BAD_ARG and nothing is written; with 0 the same staging frames",
    run: (s) => {
      init(s);
      const h = s.open();
      s.send(h, { text: "EEEEEIIIDDD", flags: HAS_ID, lens: { event: 5, id: 3, data: 3 }, expect: Status.BAD_ARG });
      s.send(h, { text: "d", lens: { event: -5, id: 99999 }, expect: Status.BAD_ARG });
      s.send(h, { noData: true, id: "1", lens: { data: -1 }, expect: Status.BAD_ARG });
      s.send(h, { text: "EEEEEIIIDDD", flags: HAS_ID, lens: { event: 0, id: 3, data: 8 } });
      s.send(h, { noData: true, id: "1", lens: { data: 0 } });
      s.drain(h, [3]);
    },
  });
  const refusals: [string, Parameters<Session["send"]>[1], number][] = [
    ["event-lf", { event: "a\nb", text: "x" }, Status.EVENT_NAME], ["event-cr", { event: "a\r", text: "x" }, Status.EVENT_NAME],
    ["event-only-lf", { event: "\n", text: "x" }, Status.EVENT_NAME], ["id-lf", { id: "1\n", text: "x" }, Status.ID],
    ["id-cr", { id: "\r", text: "x" }, Status.ID], ["id-nul", { id: "a\0b", text: "x" }, Status.ID],
    ["id-257", { id: "y".repeat(257), text: "x" }, Status.ID_TOO_LONG], ["id-400-with-nul", { id: "y".repeat(399) + "\0", text: "x" }, Status.ID],
    ["retry-negative", { retry: -1, text: "x" }, Status.RETRY], ["retry-fraction", { retry: 1.5, text: "x" }, Status.RETRY],
    ["retry-nan", { retry: NaN, text: "x" }, Status.RETRY], ["retry-infinity", { retry: Infinity, text: "x" }, Status.RETRY],
    ["retry-minus-infinity", { retry: -Infinity, noData: true }, Status.RETRY], ["retry-2^53", { retry: 2 ** 53, text: "x" }, Status.RETRY],
    ["retry-1e300", { retry: 1e300, text: "x" }, Status.RETRY], ["flag-64", { flags: ALL_FLAGS + 1, text: "x" }, Status.BAD_ARG],
    ["record-without-history", { flags: RECORD, id: "1", text: "x" }, Status.BAD_ARG],
    ["flags-minus-1", { flags: -1, text: "x" }, Status.BAD_ARG], ["event-len-negative", { event: "e", lens: { event: -1 }, text: "x" }, Status.BAD_ARG],
    ["id-len-past-staging", { id: "1", lens: { id: 1025 }, text: "x" }, Status.BAD_ARG],
    ["data-len-past-staging", { event: "ev", text: "x", lens: { data: 1023 } }, Status.BAD_ARG],
    ["data-len-negative", { text: "x", lens: { data: -1 } }, Status.BAD_ARG],
    ["event-len-with-id-only", { text: "EEEEEIIIDDD", flags: HAS_ID, lens: { event: 5, id: 3, data: 3 } }, Status.BAD_ARG],
    ["event-len-without-flag", { text: "xy", lens: { event: 1, data: 1 } }, Status.BAD_ARG],
    ["event-len-negative-without-flag", { text: "x", lens: { event: -1 } }, Status.BAD_ARG],
    ["id-len-without-flag", { event: "e", text: "12x", lens: { id: 2, data: 1 } }, Status.BAD_ARG],
    ["id-len-past-staging-without-flag", { text: "x", lens: { id: 99999 } }, Status.BAD_ARG],
    ["data-len-with-no-data", { noData: true, id: "1", text: "x", lens: { data: 1 } }, Status.BAD_ARG],
    ["data-len-past-staging-with-no-data", { noData: true, retry: 10, lens: { data: 2 ** 31 - 1 } }, Status.BAD_ARG],
    ["data-len-negative-with-no-data", { noData: true, retry: 10, lens: { data: -1 } }, Status.BAD_ARG],
    ["bad-event-and-bad-id", { event: "\n", id: "\n", text: "x" }, Status.EVENT_NAME],
    ["bad-id-and-bad-retry", { id: "\0", retry: -1, text: "x" }, Status.ID],
  ];
  for (const [name, spec, code] of refusals) {
    out.push({
      name: `refused/${name}`, about: `refused with ${code}: no byte written, nothing counted`,
      run: (s) => { init(s); const h = s.open("kept"); s.send(h, { ...spec, expect: code }); s.lastId(h); s.stat(h, STAT_RETRY); unchanged(s, h); },
    });
  }
  out.push(
    {
      name: "too-large", about: "a frame larger than the whole outbound space is TOO_LARGE, even when nothing is pending",
      run: (s) => { s.init(1, 64, 256, 0); const h = s.open(); s.send(h, { text: "z".repeat(100), expect: Status.TOO_LARGE }); s.send(h, { text: "z".repeat(57) }); s.send(h, { text: "z".repeat(58), expect: Status.TOO_LARGE }); s.drain(h, [64]); },
    },
    {
      name: "no-space-then-drain", about: "a frame that fits only after draining is NO_SPACE; after a drain it goes",
      run: (s) => {
        s.init(1, 64, 256, 0);
        const h = s.open();
        s.send(h, { text: "a".repeat(30) });
        s.send(h, { text: "b".repeat(30), expect: Status.NO_SPACE });
        s.drain(h, [7], 20);
        s.send(h, { text: "b".repeat(40), expect: Status.NO_SPACE });
        s.drain(h, [7]);
        s.send(h, { text: "b".repeat(30) });
        s.outPtr(h);
        s.drain(h, [13]);
      },
    },
    {
      name: "exact-fit", about: "a frame of exactly the free space fits; one byte more is NO_SPACE",
      run: (s) => { s.init(1, 32, 256, 0); const h = s.open(); s.send(h, { text: "12345" }); s.send(h, { text: "x".repeat(11) }); s.send(h, { text: "", expect: Status.NO_SPACE }); s.drain(h, [32]); s.send(h, { text: "y".repeat(24) }); s.drain(h, [1]); },
    },
  );
  return out;
}

/** A random JSON-able value: nested containers, awkward strings and numbers. */
function randomValue(depth: number): unknown {
  const strings = ["", "plain", "quote\"back\\slash", "ctl\u0001\u001f\b\f\n\r\t", "ü✓🎉", "\ud800lone", "trail\udfff", "\udbff\udfff", "</script>", "\u2028\u2029", "\u007f\u0080\u07ff\u0800\uffff"];
  const numbers = [0, -0, 1, -1, 0.1 + 0.2, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, NaN, Infinity, -Infinity, 2 ** 53, 0.000001, 1e-6, 4.35, 100, 1 / 3];
  const r = int(depth > 3 ? 6 : 9);
  switch (r) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: case 3: return pick(numbers) ?? rand() * 1e6;
    case 4: case 5: return pick(strings) + (rand() < 0.3 ? String(int(1000)) : "");
    case 6: return Array.from({ length: int(5) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(5); i > 0; i--) o[pick(["a", "", "key", "k\"q", "ключ", "\ud83d\ude00", "n" + int(9)])] = randomValue(depth + 1);
      return o;
    }
  }
}

const le32 = (n: number): number[] => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];
const str8 = (tag: number, s: string): number[] => { const b = utf8(s); return [tag, ...le32(b.length), ...b]; };
const str16 = (tag: number, s: string): number[] => [tag, ...le32(s.length), ...Array.from(s).flatMap((_, i) => [s.charCodeAt(i) & 255, s.charCodeAt(i) >> 8]).slice(0, 2 * s.length)];
const num = (x: number): number[] => { const b = new Uint8Array(9); b[0] = TAG_NUMBER; new DataView(b.buffer).setFloat64(1, x, true); return [...b]; };
const int32 = (x: number): number[] => { const b = new Uint8Array(5); b[0] = TAG_INT32; new DataView(b.buffer).setInt32(1, x, true); return [...b]; };

function json(): Script[] {
  const out: Script[] = [];
  for (let i = 0; i < 60; i++) {
    const value = i < 8 ? [null, true, false, 42, "s", [], {}, -0][i] : randomValue(0);
    out.push({
      name: `value/${i}`, about: "JSON data is byte-identical to JSON.stringify and parses back to the value",
      run: (s) => { s.init(1, 8192, 8192, 0); const h = s.open(); s.send(h, { json: value, ...(i % 3 === 0 ? { event: "j", id: `${i}` } : {}) }); s.drain(h, [1 + (i % 17)]); },
    });
  }
  const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)]);
  out.push({ name: "depth-256", about: "256 levels of nesting are accepted", run: (s) => { s.init(1, 2048, 4096, 0); const h = s.open(); s.send(h, { json: nest(256) }); s.drain(h, [100]); } });
  const handMade: [string, number[]][] = [
    ["str16-plain", str16(TAG_STR16, "utf-16 text")], ["str16-surrogates", str16(TAG_STR16, "a\ud83d\ude00b\udc00")],
    ["key16", [TAG_OBJECT, ...str16(TAG_KEY16, "ключ"), ...num(1), TAG_OBJECT_END]],
    ["duplicate-keys", [TAG_OBJECT, ...str8(TAG_KEY8, "a"), TAG_NULL, ...str8(TAG_KEY8, "a"), TAG_TRUE, TAG_OBJECT_END]],
    ["mixed", [TAG_ARRAY, ...str8(TAG_STR8, "x"), ...str16(TAG_STR16, "y"), TAG_OBJECT, TAG_OBJECT_END, TAG_ARRAY, TAG_ARRAY_END, TAG_ARRAY_END]],
    // Strings kept elsewhere in staging (0x0E): here, the text of a string earlier in the same tape.
    ["kept", [TAG_ARRAY, ...str8(TAG_STR8, "héllo"), TAG_STR_AT, ...le32(6), ...le32(6), TAG_STR_AT, ...le32(7), ...le32(4), TAG_ARRAY_END]],
    ["kept-escaped", [TAG_ARRAY, ...str8(TAG_STR8, "q\"\\\n\u0001"), TAG_STR_AT, ...le32(6), ...le32(5), TAG_ARRAY_END]],
    ["kept-empty-at-end", [TAG_STR_AT, ...le32(STD[2]), ...le32(0)]],
    // Integers as i32 (0x0F), beside the same and other values as f64 (0x03).
    ["int32", [TAG_ARRAY, ...int32(0), ...int32(-1), ...int32(7), ...int32(2 ** 31 - 1), ...int32(-(2 ** 31)), ...int32(99999999), ...int32(100000000), ...num(7), ...num(-0), ...num(2 ** 31), TAG_ARRAY_END]],
    ["int32-member", [TAG_OBJECT, ...str8(TAG_KEY8, "n"), ...int32(-42), ...str8(TAG_KEY8, "m"), TAG_ARRAY, ...int32(1), TAG_ARRAY_END, TAG_OBJECT_END]],
  ];
  for (const [name, tape] of handMade) {
    out.push({ name: `tape/${name}`, about: "hand-made tapes: UTF-16 strings and keys, duplicate keys", run: (s) => { init(s); const h = s.open(); s.send(h, { tape: new Uint8Array(tape) }); s.drain(h, [6]); } });
  }
  const malformed: [string, number[]][] = [
    ["empty", []], ["unknown-tag-0c", [TAG_SHAPE]], ["unknown-tag-ff", [0xff]], ["truncated-number", [TAG_NUMBER, 0, 0, 0, 0]],
    ["truncated-length", [TAG_STR8, 1, 0]], ["string-past-end", [TAG_STR8, 5, 0, 0, 0, 0x61]],
    ["str16-past-end", [TAG_STR16, 2, 0, 0, 0, 0x61, 0, 0x62]],
    ["unclosed-array", [TAG_ARRAY, TAG_NULL]], ["unclosed-object", [TAG_OBJECT, ...str8(TAG_KEY8, "k"), TAG_NULL]], ["two-values", [TAG_NULL, TAG_NULL]],
    ["key-at-top", str8(TAG_KEY8, "k")], ["key-in-array", [TAG_ARRAY, ...str8(TAG_KEY8, "k"), TAG_ARRAY_END]],
    ["value-for-key", [TAG_OBJECT, TAG_NULL, TAG_OBJECT_END]], ["key-without-value", [TAG_OBJECT, ...str8(TAG_KEY8, "k"), TAG_OBJECT_END]],
    ["array-end-in-object", [TAG_OBJECT, TAG_ARRAY_END]], ["object-end-in-array", [TAG_ARRAY, TAG_OBJECT_END]],
    ["lone-end", [TAG_ARRAY_END]], ["trailing-after-array", [TAG_ARRAY, TAG_ARRAY_END, TAG_ARRAY_END]],
    ["depth-257", [...Array(257).fill(TAG_ARRAY), ...Array(257).fill(TAG_ARRAY_END)]],
    ["key-then-key", [TAG_OBJECT, ...str8(TAG_KEY8, "a"), ...str8(TAG_KEY8, "b"), TAG_NULL, TAG_OBJECT_END]],
    ["kept-past-staging", [TAG_STR_AT, ...le32(STD[2]), ...le32(1)]], ["kept-offset-past-staging", [TAG_STR_AT, ...le32(STD[2] + 1), ...le32(0)]],
    ["kept-count-wraps", [TAG_STR_AT, ...le32(8), ...le32(0xffffffff)]], ["kept-truncated", [TAG_STR_AT, 0, 0, 0, 0, 1, 0, 0]],
    ["kept-as-key", [TAG_OBJECT, TAG_STR_AT, ...le32(0), ...le32(0), TAG_NULL, TAG_OBJECT_END]],
    ["truncated-int32", [TAG_INT32, 1, 0, 0]], ["int32-as-key", [TAG_OBJECT, ...int32(1), TAG_NULL, TAG_OBJECT_END]],
    ["skips-outside-shape", [TAG_SKIPS, 1]], ["skips-in-array", [TAG_ARRAY, TAG_SKIPS, 1, TAG_ARRAY_END]],
    ["skips-in-object", [TAG_OBJECT, ...str8(TAG_KEY8, "k"), TAG_SKIPS, 1, TAG_OBJECT_END]],
  ];
  for (const [name, tape] of malformed) {
    out.push({
      name: `bad-tape/${name}`, about: "a malformed tape is BAD_TAPE: nothing written",
      run: (s) => { init(s); const h = s.open(); s.send(h, { tape: new Uint8Array(tape), expect: Status.BAD_TAPE }); unchanged(s, h); },
    });
  }
  out.push({
    name: "bad-tape-beats-too-large", about: "a malformed tape that would also not fit is BAD_TAPE",
    run: (s) => { s.init(1, 16, 256, 0); const h = s.open(); s.send(h, { tape: new Uint8Array([TAG_ARRAY, ...str8(TAG_STR8, "q".repeat(40))]), expect: Status.BAD_TAPE }); s.outLen(h); },
  });
  out.push({
    name: "json-too-large", about: "JSON text longer than the outbound space is TOO_LARGE (escapes count)",
    run: (s) => { s.init(1, 64, 256, 0); const h = s.open(); s.send(h, { json: "\u0001".repeat(10), expect: Status.TOO_LARGE }); s.send(h, { json: "\u0001".repeat(8) }); s.drain(h, [5]); },
  });
  return out;
}

function comment(): Script[] {
  const texts: [string, string][] = [["empty", ""], ["word", "hello"], ["lf", "a\nb"], ["breaks", "a\r\nb\rc\n"], ["space", " spaced"], ["colon", ": colon"], ["unicode", "ü ✓"], ["long", "c".repeat(500)]];
  const out: Script[] = texts.map(([name, text]) => ({
    name: `text/${name}`, about: "a comment: every line `: line`; not an event",
    run: (s) => { s.init(1, 1024, 1024, 0); const h = s.open(); s.comment(h, text); s.send(h, { text: "after" }); s.stat(h, STAT_EVENTS); s.drain(h, [3]); },
  }));
  out.push(
    { name: "refused/len-negative", about: "comment length -1 is BAD_ARG", run: (s) => { init(s); const h = s.open(); s.comment(h, "", { len: -1, expect: Status.BAD_ARG }); unchanged(s, h); } },
    { name: "refused/len-past-staging", about: "a comment longer than staging is BAD_ARG", run: (s) => { init(s); const h = s.open(); s.comment(h, "", { len: 1025, expect: Status.BAD_ARG }); unchanged(s, h); } },
    { name: "refused/too-large", about: "a comment larger than the outbound space is TOO_LARGE", run: (s) => { s.init(1, 32, 256, 0); const h = s.open(); s.comment(h, "x".repeat(40), { expect: Status.TOO_LARGE }); s.outLen(h); } },
    { name: "refused/no-space", about: "a comment that fits only after draining is NO_SPACE", run: (s) => { s.init(1, 32, 256, 0); const h = s.open(); s.comment(h, "x".repeat(20)); s.comment(h, "y".repeat(20), { expect: Status.NO_SPACE }); s.drain(h, [8]); s.comment(h, "y".repeat(20)); s.drain(h, [8]); } },
  );
  return out;
}

function close(): Script[] {
  const stale = (s: Session, h: number): void => {
    s.close(h); s.state(h); s.stat(h, STAT_EVENTS); s.lastId(h); s.send(h, { text: "x" }); s.comment(h, "x");
    s.outPtr(h); s.outLen(h); s.consume(h, 0);
  };
  return [
    { name: "stale-handle", about: "after close every per-connection export is UNKNOWN_CONN (conn_stat: NaN)", run: (s) => { init(s); const h = s.open(); s.send(h, { text: "x" }); s.close(h); stale(s, h); s.openCount(); } },
    { name: "close-twice", about: "closing twice is UNKNOWN_CONN", run: (s) => { init(s); const h = s.open(); s.close(h); s.close(h); s.openCount(); } },
    { name: "handle-zero", about: "handle 0 is never valid", run: (s) => { init(s); s.open(); stale(s, 0); } },
    { name: "handle-negative", about: "negative handles are UNKNOWN_CONN", run: (s) => { init(s); s.open(); stale(s, -1); stale(s, -65536); } },
    { name: "handle-max", about: "0x7fffffff is UNKNOWN_CONN", run: (s) => { init(s); stale(s, 0x7fffffff); } },
    { name: "slot-out-of-range", about: "a slot past maxConns is UNKNOWN_CONN", run: (s) => { s.init(2, 64, 256, 0); s.open(); stale(s, (1 << 16) | 5); stale(s, (1 << 16) | 2); } },
    { name: "never-opened-slot", about: "a free slot's handle is UNKNOWN_CONN", run: (s) => { s.init(3, 64, 256, 0); const h = s.open(); stale(s, h + 1); s.state(h); } },
    {
      name: "old-generation", about: "a handle from before the slot was reused stays dead",
      run: (s) => { s.init(1, 64, 256, 0); const a = s.open(); s.close(a); const b = s.open(); stale(s, a); s.state(b); s.send(b, { text: "b" }); s.drain(b, [4]); },
    },
    {
      name: "drops-pending", about: "close drops pending bytes; the slot's next connection starts empty",
      run: (s) => { s.init(1, 256, 256, 0); const a = s.open("x"); s.send(a, { text: "never read" }); s.close(a); const b = s.open(); s.outLen(b); s.stat(b, STAT_BYTES_FRAMED); s.lastId(b); s.stat(b, STAT_HAS_LAST_ID); },
    },
    {
      name: "interleaved", about: "closing one connection leaves the others' bytes alone",
      run: (s) => {
        s.init(4, 256, 256, 0);
        const hs = [s.open(), s.open(), s.open()];
        hs.forEach((h, i) => s.send(h, { text: `to ${i}` }));
        s.close(hs[1]!);
        s.drain(hs[0]!, [3]);
        s.drain(hs[2]!, [100]);
        const n = s.open();
        s.send(n, { text: "new" });
        s.drain(n, [2]);
        s.openCount();
      },
    },
  ];
}

function drain(): Script[] {
  const out: Script[] = [];
  for (const chunks of [[1], [2], [3], [7], [13], [64], [5, 1, 9], [1000], [17, 3], [0], [3, 0], [0, 5]]) {
    out.push({
      name: `chunks/${chunks.join("-")}`, about: `pending bytes drained ${chunks.join(", ")} at a time are the frames, in order`,
      run: (s) => {
        s.init(1, 1024, 1024, 0);
        const h = s.open();
        for (let i = 0; i < 6; i++) s.send(h, { event: `e${i}`, id: `${i}`, text: `line ${i}\nsecond ${i}` });
        s.outLen(h);
        s.outPtr(h);
        s.drain(h, chunks);
        s.outLen(h);
        s.stat(h, STAT_BYTES_DRAINED);
        s.stat(h, STAT_PENDING);
      },
    });
  }
  out.push(
    {
      name: "partial-then-more", about: "a partial drain, then more frames: the rest and the new frames follow in order",
      run: (s) => {
        s.init(1, 128, 256, 0);
        const h = s.open();
        for (let round = 0; round < 8; round++) {
          s.send(h, { text: `round ${round} ${"p".repeat(round * 5)}` });
          s.drain(h, [3, 5], 11 + round);
          s.outLen(h);
        }
        s.drain(h, [9]);
      },
    },
    {
      name: "consume-checks", about: "out_consume of -1 or more than pending is BAD_ARG; 0 is fine",
      run: (s) => {
        init(s);
        const h = s.open();
        s.send(h, { text: "abc" });
        s.consume(h, -1, Status.BAD_ARG);
        s.consume(h, 100, Status.BAD_ARG);
        s.consume(h, 0);
        s.consume(h, 4);
        s.outLen(h);
        s.consume(h, 9, Status.BAD_ARG);
        s.drain(h, [2]);
        s.consume(h, 1, Status.BAD_ARG);
        s.stat(h, STAT_BYTES_DRAINED);
      },
    },
    {
      name: "fill-drain-cycles", about: "filling the space to NO_SPACE and draining in odd pieces, many times over",
      run: (s) => {
        s.init(1, 100, 256, 0);
        const h = s.open();
        for (let i = 0; i < 25; i++) {
          let r = 0;
          for (let k = 0; r >= 0; k++) r = s.send(h, { text: `${i}.${k}` });
          s.drain(h, [1 + (i % 6)], 20 + i);
        }
        s.drain(h, [4]);
      },
    },
  );
  return out;
}

function time(): Script[] {
  return [
    { name: "off", about: "keep-alive 0: tick lists nothing, deadlines are Infinity", run: (s) => { init(s); const h = s.open(); s.tick(1e9); s.nextDeadline(); s.stat(h, STAT_DEADLINE); s.outLen(h); } },
    { name: "no-conns", about: "with no connection open, next_deadline is Infinity and tick lists nothing", run: (s) => { s.init(2, 64, 256, 100); s.nextDeadline(); s.tick(500); s.dueCall(); } },
    {
      name: "one-conn", about: "a keep-alive `:` is due keepAliveMs after the last bytes; tick lists the handle",
      run: (s) => { s.init(2, 64, 256, 1000); const h = s.open(); s.stat(h, STAT_DEADLINE); s.nextDeadline(); s.tick(999); s.tick(1000); s.dueCall(); s.stat(h, STAT_DEADLINE); s.nextDeadline(); s.drain(h, [1]); s.tick(1500); s.tick(2000); s.drain(h, [2]); },
    },
    {
      name: "send-resets", about: "any bytes restart the keep-alive",
      run: (s) => { s.init(2, 256, 256, 1000); const h = s.open(); s.tick(600); s.send(h, { text: "x" }); s.stat(h, STAT_DEADLINE); s.tick(1000); s.tick(1600); s.comment(h, "c"); s.tick(2500); s.tick(2600); s.drain(h, [5]); s.nextDeadline(); },
    },
    {
      name: "slot-order", about: "due handles are listed in slot order",
      run: (s) => {
        s.init(5, 64, 256, 100);
        const hs = [s.open(), s.open(), s.open(), s.open()];
        s.close(hs[1]!);
        s.tick(50);
        const late = s.open();
        s.tick(100);
        s.tick(150);
        s.nextDeadline();
        for (const h of [hs[0]!, hs[2]!, hs[3]!, late]) s.drain(h, [2]);
      },
    },
    {
      name: "full-space", about: "a connection whose space is full is listed but gets no keep-alive",
      run: (s) => { s.init(1, 16, 256, 10); const h = s.open(); s.send(h, { text: "123456789" }); s.tick(10); s.outLen(h); s.stat(h, STAT_DEADLINE); s.drain(h, [16]); s.tick(20); s.drain(h, [2]); },
    },
    {
      name: "refused", about: "tick with a negative, NaN or infinite time is BAD_ARG and changes nothing",
      run: (s) => { s.init(1, 64, 256, 10); const h = s.open(); for (const t of [-1, NaN, Infinity, -Infinity]) s.tick(t); s.outLen(h); s.nextDeadline(); s.tick(10); s.drain(h, [2]); },
    },
    {
      name: "set-now", about: "set_now moves the clock in O(1): later frames restart keep-alives from it, nothing is due until tick",
      run: (s) => {
        s.init(2, 64, 256, 100); const h = s.open(); s.setNow(250); s.outLen(h); s.stat(h, STAT_DEADLINE); s.send(h, { text: "x" }); s.stat(h, STAT_DEADLINE);
        for (const t of [-1, NaN, Infinity]) s.setNow(t);
        s.tick(300); s.tick(349); s.tick(350); s.drain(h, [3]); s.nextDeadline();
      },
    },
    {
      name: "touch", about: "conn_touch restarts one connection's keep-alive (bytes the host sent it from elsewhere)",
      run: (s) => {
        s.init(3, 64, 256, 100); const a = s.open(); const b = s.open(); s.setNow(90); s.touch(a); s.stat(a, STAT_DEADLINE); s.stat(b, STAT_DEADLINE);
        s.tick(100); s.dueCall(); s.tick(190); s.drain(a, [2]); s.drain(b, [2]); s.close(a); s.touch(a); s.touch(0); s.touch(-3);
      },
    },
    {
      name: "touch-off", about: "with keep-alive off, conn_touch is accepted and changes nothing",
      run: (s) => { init(s); const h = s.open(); s.touch(h); s.stat(h, STAT_DEADLINE); s.nextDeadline(); },
    },
    {
      name: "backwards", about: "time may go backwards: deadlines follow the time tick last said",
      run: (s) => { s.init(1, 64, 256, 100); const h = s.open(); s.tick(1000); s.tick(500); s.send(h, { text: "x" }); s.stat(h, STAT_DEADLINE); s.tick(599); s.tick(600); s.drain(h, [3]); },
    },
    {
      name: "fractional", about: "fractional keep-alive and times are kept exactly",
      run: (s) => { s.init(2, 64, 256, 2.5); const h = s.open(); s.tick(0.1); s.stat(h, STAT_DEADLINE); s.tick(2.5); s.tick(2.6); s.nextDeadline(); s.drain(h, [1]); },
    },
    {
      name: "many", about: "60 connections with staggered traffic",
      run: (s) => {
        s.init(64, 64, 256, 1000);
        const hs: number[] = [];
        for (let t = 0; t < 60; t++) { s.tick(t * 37); hs.push(s.open()); if (t % 3 === 0) s.send(hs[t >> 1]!, { text: `${t}` }); }
        for (let t = 3000; t < 6000; t += 400) { s.tick(t); s.nextDeadline(); }
        for (const h of hs) s.drain(h, [64]);
      },
    },
  ];
}

function stats(): Script[] {
  return [0, 1, 2, 3].map((variant) => ({
    name: `all/${variant}`, about: "conn_stat 0..6 track events, bytes framed/drained/pending, retry, deadline, last id; other indexes are NaN",
    run: (s) => {
      s.init(2, 512, 512, variant * 250);
      const h = s.open(variant % 2 ? "seen" : null);
      s.send(h, { text: "a", retry: 100 * variant });
      s.comment(h, "c");
      s.send(h, { json: { v: variant }, id: "" });
      s.drain(h, [variant + 1], 10 + variant);
      for (const which of [0, 1, 2, 3, 4, 5, 6, 7, -1, 100]) s.stat(h, which);
    },
  }));
}

function random(): Script[] {
  return Array.from({ length: 8 }, (_, n) => ({
    name: `stream/${n}`, about: "a long random script: sends, comments, drains, closes, ticks; every stream reads back as meant",
    run: (s) => {
      const ka = n % 2 ? 300 : 0;
      s.init(4, 256 + 128 * (n % 3), 1024, ka);
      const open: number[] = [];
      let now = 0;
      for (let op = 0; op < 300; op++) {
        const h = open.length ? pick(open) : 0;
        const r = int(20);
        if (!open.length || (r === 0 && open.length < 4)) open.push(s.open(rand() < 0.3 ? `r${op}` : null));
        else if (r < 7) s.send(h, { text: pick(TEXTS)[1], ...(rand() < 0.3 ? { event: "ev" } : {}), ...(rand() < 0.3 ? { id: `${op}` } : {}) });
        else if (r < 10) s.send(h, { json: randomValue(2), ...(rand() < 0.2 ? { retry: int(5000) } : {}) });
        else if (r < 11) s.comment(h, pick(["k", "a\nb", ""]));
        else if (r < 16) s.drain(h, [1 + int(20), 1 + int(5)], rand() < 0.5 ? int(200) : Infinity);
        else if (r < 17 && open.length > 1) { s.close(h); open.splice(open.indexOf(h), 1); }
        else if (r < 19) { now += int(400); s.tick(now); }
        else { s.stat(h, int(7)); s.nextDeadline(); }
      }
      for (const h of open) s.drain(h, [97]);
    },
  }));
}

function history(): Script[] {
  const rec = (s: Session, h: number, id: string, text: string, expect?: number): number =>
    s.send(h, { flags: RECORD, id, text, ...(expect === undefined ? {} : { expect }) });
  const out: Script[] = [
    {
      name: "basic", about: "recorded frames are kept under their ids; history_find gives the newest position",
      run: (s) => {
        init(s); s.historyInit(8, 1024); s.historyCount();
        const h = s.open();
        for (const id of ["1", "2", "3", "2"]) rec(s, h, id, `event ${id}`);
        s.send(h, { id: "4", text: "not recorded" });
        for (const id of ["1", "2", "3", "4", "", "22"]) s.historyFind(id);
        for (let i = -1; i <= 4; i++) s.historyFrame(i);
        s.drain(h, [8]);
      },
    },
    {
      name: "refused", about: "history_init before init, twice or out of range; record without an id or a history",
      run: (s) => {
        s.historyInit(4, 256, Status.NOT_INIT);
        init(s);
        const h = s.open();
        rec(s, h, "1", "x", Status.BAD_ARG);
        for (const [e, b] of [[0, 256], [MAX_HISTORY_EVENTS + 1, 256], [4, MIN_REGION - 1], [4, MAX_REGION + 1], [-1, 256]] as const) s.historyInit(e, b, Status.BAD_ARG);
        s.historyInit(4, 256);
        s.historyInit(4, 256, Status.ALREADY_INIT);
        s.send(h, { flags: RECORD, text: "no id", expect: Status.BAD_ARG });
        s.historyFind("", { len: -1, expect: Status.BAD_ARG });
        s.historyFind("", { len: 1025, expect: Status.BAD_ARG });
        s.historyFind("nope", { expect: Status.ID_UNKNOWN });
        unchanged(s, h);
        s.historyCount();
      },
    },
    {
      name: "beyond-two-pages", about: "a 125 KB history fits the release build; the mcu build says NO_MEMORY",
      run: (s) => { init(s); s.historyInit(16, 125000); const h = s.open(); rec(s, h, "1", "kept"); s.historyFrame(0); s.historyFind("1"); },
    },
    {
      name: "too-large-empties", about: "a frame larger than the whole ring empties the history instead of leaving a gap",
      run: (s) => { init(s); s.historyInit(8, 64); const h = s.open(); rec(s, h, "a", "small"); rec(s, h, "b", "x".repeat(80)); s.historyFind("a"); rec(s, h, "c", "after"); s.historyFrame(0); s.drain(h, [50]); },
    },
  ];
  for (const [events, bytes] of [[3, 4096], [16, 100], [5, 160], [64, 1000], [1, 64]] as const) {
    out.push({
      name: `ring/${events}x${bytes}`, about: `${events} events / ${bytes} bytes: always a gap-free run of the newest frames`,
      run: (s) => {
        s.init(2, 512, 512, 0);
        s.historyInit(events, bytes);
        const h = s.open();
        for (let i = 0; i < 40; i++) {
          rec(s, h, `${i}`, "p".repeat(int(40)));
          if (i % 4 === 3) { s.historyFind(`${i - 2}`); s.historyFrame(0); s.drain(h, [64]); }
        }
        s.historyCount();
        for (let i = 0; i < Math.min(events, 3); i++) s.historyFrame(i);
      },
    });
  }
  return out;
}

/** A key list for shape_define: u32 count, then each key as a tape string (UTF-16 where `wide`). */
function keyList(keys: string[], wide: string[] = []): Uint8Array {
  return new Uint8Array([...le32(keys.length), ...keys.flatMap((k) => (wide.includes(k) ? str16(TAG_KEY16, k) : str8(TAG_KEY8, k)))]);
}
/**
 * A shaped object: tag, u16 shape id, then per member a value's tape or a skip; with `runs`,
 * skips in a row go as one run (0x10, count), as the bindings write them.
 */
function shaped(id: number, members: (unknown | typeof SKIP)[], runs = false): number[] {
  const out = [TAG_SHAPE, id & 255, id >> 8];
  for (let i = 0; i < members.length;) {
    let n = 0;
    while (members[i + n] === SKIP && (runs || n === 0)) n++;
    if (n === 0) out.push(...tapeOf(members[i]));
    else out.push(...(n === 1 ? [TAG_SKIP] : [TAG_SKIPS, n]));
    i += Math.max(n, 1);
  }
  return out;
}
const SKIP = Symbol("skip");

function shapes(): Script[] {
  const out: Script[] = [
    {
      name: "basic", about: "a shaped object carries only values; keys come from its shape; skips leave members out",
      run: (s) => {
        s.init(2, 1024, 1024, 0);
        s.shapeInit(4, 256);
        s.shapeDefine(keyList(["a", "b"]), ["a", "b"]);
        s.shapeDefine(keyList(["x", "ключ", "q\"k", "w\ud800"], ["w\ud800"]), ["x", "ключ", "q\"k", "w\ud800"]);
        s.shapeDefine(keyList([]), []);
        const h = s.open();
        const cases: [number[], unknown][] = [
          [shaped(0, [1, "two"]), { a: 1, b: "two" }],
          [shaped(0, [SKIP, 2]), { b: 2 }],
          [shaped(0, [SKIP, SKIP]), {}],
          [shaped(2, []), {}],
          [shaped(1, [null, [1, 2], { n: { m: true } }, "v"]), { x: null, "ключ": [1, 2], "q\"k": { n: { m: true } }, "w\ud800": "v" }],
          [[TAG_ARRAY, ...shaped(0, [1, 2]), ...shaped(0, [SKIP, 3]), TAG_ARRAY_END], [{ a: 1, b: 2 }, { b: 3 }]],
          [[TAG_SHAPE, 0, 0, ...shaped(0, [1, 2]), ...tapeOf(0)], { a: { a: 1, b: 2 }, b: 0 }],
          // Runs of skips (0x10, count): all members, the first, the last, the middle ones;
          // a run ends with its object, so the next object's members are its own.
          [shaped(0, [SKIP, SKIP], true), {}],
          [shaped(0, [-(2 ** 31), 2 ** 31 - 1]), { a: -(2 ** 31), b: 2 ** 31 - 1 }], // i32 extremes on the record path
          [shaped(0, [999999999, -100000000]), { a: 999999999, b: -100000000 }],
          [[TAG_SHAPE, 0, 0, TAG_SKIPS, 1, ...tapeOf(2)], { b: 2 }],
          [[TAG_SHAPE, 0, 0, ...tapeOf(1), TAG_SKIPS, 1], { a: 1 }],
          [shaped(1, [SKIP, SKIP, SKIP, "v"], true), { "w\ud800": "v" }],
          [shaped(1, [0, SKIP, SKIP, 3], true), { x: 0, "w\ud800": 3 }],
          [[TAG_ARRAY, ...shaped(0, [SKIP, SKIP], true), ...shaped(0, [1, SKIP], true), TAG_ARRAY_END], [{}, { a: 1 }]],
          [[TAG_SHAPE, 1, 0, TAG_SKIP, ...shaped(0, [SKIP, SKIP], true), TAG_SKIPS, 2], { "ключ": {} }],
        ];
        for (const [tape, means] of cases) s.send(h, { tape: new Uint8Array(tape), means, event: "shaped" });
        // A member kept elsewhere in staging (0x0E), here the event name's bytes: plain, and needing escapes.
        s.send(h, { tape: new Uint8Array([TAG_SHAPE, 0, 0, ...num(1), TAG_STR_AT, ...le32(0), ...le32(6)]), means: { a: 1, b: "shaped" }, event: "shaped" });
        s.send(h, { tape: new Uint8Array([TAG_SHAPE, 0, 0, ...num(2), TAG_STR_AT, ...le32(0), ...le32(3)]), means: { a: 2, b: "e\"\\" }, event: "e\"\\" });
        s.drain(h, [7]);
      },
    },
    {
      name: "at-offset", about: "shape_define reads its key list at any offset in staging",
      run: (s) => { init(s); s.shapeInit(2, 64); s.shapeDefine(keyList(["k"]), ["k"], { at: 10 }); const h = s.open(); s.send(h, { tape: new Uint8Array(shaped(0, ["v"])), means: { k: "v" } }); s.drain(h, [4]); },
    },
    {
      name: "refused-config", about: "shape_init before init, out of range or twice; shape_define without a table",
      run: (s) => {
        s.shapeInit(4, 256, Status.NOT_INIT);
        s.shapeDefine(keyList(["a"]), ["a"], { expect: Status.NOT_INIT });
        init(s);
        s.shapeDefine(keyList(["a"]), ["a"], { expect: Status.BAD_ARG });
        for (const [n, b] of [[0, 256], [MAX_SHAPES + 1, 256], [4, MIN_REGION - 1], [4, MAX_REGION + 1], [-1, 256]] as const) s.shapeInit(n, b, Status.BAD_ARG);
        s.shapeInit(2, 64);
        s.shapeInit(2, 64, Status.ALREADY_INIT);
        s.shapeDefine(keyList(["a"]), ["a"], { at: -1, expect: Status.BAD_ARG });
        s.shapeDefine(keyList(["a"]), ["a"], { len: -1, expect: Status.BAD_ARG });
        s.shapeDefine(keyList(["a"]), ["a"], { at: 1000, len: 25, expect: Status.BAD_ARG });
        s.shapeDefine(keyList(["a"]), ["a"]);
      },
    },
    {
      name: "capacity", about: "a full shape table, or too few bytes left for the keys, is CAPACITY; the table is unchanged",
      run: (s) => {
        init(s);
        s.shapeInit(2, 32);
        s.shapeDefine(keyList(["abcdefghijklmnopqrstuvwxyz"]), ["abcdefghijklmnopqrstuvwxyz"], { expect: Status.CAPACITY });
        s.shapeDefine(keyList(["a"]), ["a"]);
        s.shapeDefine(keyList(["b"]), ["b"]);
        s.shapeDefine(keyList(["c"]), ["c"], { expect: Status.CAPACITY });
        const h = s.open();
        s.send(h, { tape: new Uint8Array(shaped(1, [1])), means: { b: 1 } });
        s.drain(h, [9]);
      },
    },
    {
      name: "beyond-two-pages", about: "a 125 KB shape table fits the release build; the mcu build says NO_MEMORY",
      run: (s) => { init(s); s.shapeInit(16, 125000); s.shapeDefine(keyList(["k"]), ["k"]); },
    },
  ];
  const badLists: [string, number[]][] = [
    ["short", [1, 0, 0]], ["missing-key", [...le32(2), ...str8(TAG_KEY8, "a")]], ["bad-tag", [...le32(1), ...str8(TAG_NULL, "a")]],
    ["trailing", [...le32(1), ...str8(TAG_KEY8, "a"), 0]], ["count-over-65535", le32(0x10000)],
    ["key-past-end", [...le32(1), TAG_KEY8, 9, 0, 0, 0, 0x61]],
  ];
  for (const [name, list] of badLists) {
    out.push({
      name: `bad-list/${name}`, about: "a malformed key list is BAD_TAPE and defines nothing",
      run: (s) => { init(s); s.shapeInit(4, 256); s.shapeDefine(new Uint8Array(list), undefined, { expect: Status.BAD_TAPE }); s.shapeDefine(keyList(["ok"]), ["ok"]); },
    });
  }
  const badTapes: [string, number[]][] = [
    ["unknown-shape", [TAG_SHAPE, 1, 0, ...tapeOf(1)]], ["truncated-id", [TAG_SHAPE, 0]], ["missing-member", shaped(0, [1])],
    ["key-in-shape", [TAG_SHAPE, 0, 0, ...str8(TAG_KEY8, "k"), ...tapeOf(1), ...tapeOf(2)]], ["end-in-shape", [TAG_SHAPE, 0, 0, TAG_OBJECT_END]],
    ["value-after", [...shaped(0, [1, 2]), TAG_NULL]], ["skip-outside", [TAG_SKIP]], ["skip-in-array", [TAG_ARRAY, TAG_SKIP, TAG_ARRAY_END]],
    ["skips-zero", [TAG_SHAPE, 0, 0, TAG_SKIPS, 0, ...tapeOf(1), ...tapeOf(2)]], ["skips-past-members", [TAG_SHAPE, 0, 0, TAG_SKIPS, 3]],
    ["skips-past-last", [TAG_SHAPE, 0, 0, ...tapeOf(1), TAG_SKIPS, 2]], ["skips-truncated", [TAG_SHAPE, 0, 0, TAG_SKIPS]],
    ["skips-into-next", [TAG_ARRAY, TAG_SHAPE, 0, 0, ...tapeOf(1), TAG_SKIPS, 2, ...tapeOf(1), TAG_ARRAY_END]],
  ];
  for (const [name, tape] of badTapes) {
    out.push({
      name: `bad-tape/${name}`, about: "a shaped tape that breaks its shape is BAD_TAPE: nothing written",
      run: (s) => { init(s); s.shapeInit(4, 256); s.shapeDefine(keyList(["a", "b"]), ["a", "b"]); const h = s.open(); s.send(h, { tape: new Uint8Array(tape), expect: Status.BAD_TAPE }); unchanged(s, h); },
    });
  }
  for (let i = 0; i < 6; i++) {
    out.push({
      name: `random/${i}`, about: "random values in random shapes read back as the objects they stand for",
      run: (s) => {
        s.init(1, 8192, 8192, 0);
        s.shapeInit(8, 1024);
        const keySets = [["id", "name", "tags"], ["t", "v"], ["ü", "\"", ""]];
        keySets.forEach((k) => s.shapeDefine(keyList(k), k));
        const h = s.open();
        for (let e = 0; e < 5; e++) {
          const id = int(keySets.length);
          const members = keySets[id]!.map(() => (rand() < 0.3 ? SKIP : randomValue(2)));
          const means = Object.fromEntries(keySets[id]!.flatMap((k, j) => (members[j] === SKIP ? [] : [[k, members[j]]])));
          s.send(h, { tape: new Uint8Array(shaped(id, members, e % 2 === 1)), means });
        }
        s.drain(h, [1 + i * 3]);
      },
    });
  }
  return out;
}

/** The wide region (ABI 6): its configuration, who may take it, when it goes back, and what is framed there. */
function wide(): Script[] {
  const OUT = 64;
  const WIDE = 512;
  const setup = (s: Session): void => { s.init(3, OUT, 1024, 0); s.wideInit(WIDE); };
  /** A text event whose frame, `data: …\n\n`, is n bytes. */
  const ev = (n: number, c = "w", expect?: number): SendSpec => ({ text: c.repeat(n - 8), ...(expect === undefined ? {} : { expect }) });
  const out: Script[] = [
    {
      name: "refused", about: "wide_init before init is NOT_INIT; outBytes or less, or past 2^30, is BAD_ARG and does not count; once one succeeds every later one is ALREADY_INIT",
      run: (s) => {
        s.wideInit(WIDE, Status.NOT_INIT);
        s.init(2, OUT, 1024, 0);
        for (const b of [OUT, OUT - 1, 0, -1, -(2 ** 31), MAX_REGION + 1, 2 ** 31 - 1]) s.wideInit(b, Status.BAD_ARG);
        const h = s.open();
        s.send(h, ev(OUT + 1, "x", Status.TOO_LARGE));
        s.wideInit(OUT + 1);
        for (const b of [WIDE, MAX_REGION + 1, OUT]) s.wideInit(b, Status.ALREADY_INIT);
        s.send(h, ev(OUT + 1));
        s.pending(h);
        s.drain(h, [16]);
        s.send(h, ev(OUT + 2, "x", Status.TOO_LARGE));
        s.outLen(h);
      },
    },
    {
      name: "beyond-two-pages", about: "a 125 KB wide region fits the release build; the mcu build says NO_MEMORY",
      run: (s) => { s.init(2, 1024, 4096, 0); s.wideInit(125000); const h = s.open(); s.send(h, ev(4000)); s.pending(h); s.drain(h, [0]); },
    },
    {
      name: "goes-wide", about: "a frame larger than outBytes, on a connection with nothing pending, is framed in the wide region, up to its whole size; out_ptr names it there",
      run: (s) => {
        setup(s);
        const h = s.open();
        s.send(h, ev(100));
        s.pending(h);
        for (const which of [STAT_EVENTS, STAT_BYTES_FRAMED, STAT_PENDING]) s.stat(h, which);
        s.drain(h, [7]);
        s.stat(h, STAT_BYTES_DRAINED);
        s.send(h, ev(OUT, "o"));
        s.drain(h, [OUT]);
        s.send(h, ev(WIDE, "f"));
        s.pending(h);
        s.drain(h, [100]);
        s.send(h, ev(WIDE + 1, "x", Status.TOO_LARGE));
        s.outLen(h);
      },
    },
    {
      name: "held-by-another", about: "while one connection holds the wide region another's frame larger than outBytes is NO_SPACE, until the holder drains all; the others' own spaces are untouched",
      run: (s) => {
        setup(s);
        const [a, b, c] = [s.open(), s.open(), s.open()];
        s.send(b, ev(40, "b"));
        s.send(a, ev(WIDE - 12, "a"));
        s.send(c, ev(100, "c", Status.NO_SPACE));
        s.send(c, ev(OUT, "c"));
        s.send(b, ev(OUT - 40, "B"));
        for (const h of [a, b, c]) s.pending(h);
        s.drain(a, [50], 400);
        s.drain(c, [OUT]);
        s.send(c, ev(100, "c", Status.NO_SPACE));
        s.drain(a, [33]);
        s.send(c, ev(100, "c"));
        s.send(a, ev(100, "a", Status.NO_SPACE));
        s.send(a, ev(10, "a"));
        for (const h of [a, b, c]) s.pending(h);
        for (const h of [a, b, c]) s.drain(h, [9]);
      },
    },
    {
      name: "pending-first", about: "with bytes pending, a frame larger than outBytes is NO_SPACE though the wide region is free (they stay one run, in order); once all drain it goes",
      run: (s) => {
        s.init(2, OUT, 1024, 0);
        const h = s.open();
        s.send(h, ev(10, "p"));
        s.wideInit(WIDE); // after traffic: nothing changes for the bytes already framed
        s.send(h, ev(100, "w", Status.NO_SPACE));
        s.drain(h, [3], 9);
        s.send(h, ev(100, "w", Status.NO_SPACE));
        s.consume(h, 1);
        s.send(h, ev(100));
        s.pending(h);
        s.drain(h, [0]);
      },
    },
    {
      name: "too-large", about: "TOO_LARGE only past both outBytes and the wide region, whoever holds it; a frame between the two is NO_SPACE",
      run: (s) => {
        setup(s);
        const [a, b] = [s.open(), s.open()];
        s.send(a, ev(WIDE + 1, "x", Status.TOO_LARGE));
        s.comment(a, "t".repeat(WIDE - 2), { expect: Status.TOO_LARGE });
        s.send(a, ev(200, "a"));
        s.send(a, ev(WIDE + 1, "x", Status.TOO_LARGE));
        s.send(a, ev(WIDE - 199, "x", Status.NO_SPACE));
        s.send(a, ev(WIDE - 200, "A"));
        s.send(b, ev(WIDE + 1, "x", Status.TOO_LARGE));
        s.send(b, ev(WIDE, "x", Status.NO_SPACE));
        s.send(b, ev(OUT + 1, "x", Status.NO_SPACE));
        s.send(b, ev(OUT, "b"));
        s.drain(a, [0]);
        s.drain(b, [0]);
      },
    },
    {
      name: "bad-tape-takes-nothing", about: "a refused frame that would have gone wide leaves the region free",
      run: (s) => {
        setup(s);
        const [a, b] = [s.open(), s.open()];
        s.send(a, { tape: new Uint8Array([TAG_ARRAY, ...str8(TAG_STR8, "q".repeat(200))]), expect: Status.BAD_TAPE });
        s.send(a, { event: "bad\n", text: "q".repeat(200), expect: Status.EVENT_NAME });
        s.outLen(a);
        s.send(b, ev(200, "b"));
        s.drain(b, [0]);
        s.send(a, ev(200, "a"));
        s.drain(a, [0]);
      },
    },
    {
      name: "append", about: "later frames on the holder append in the wide region, also after a partial drain; its room is the wide region's, not outBytes",
      run: (s) => {
        setup(s);
        const [h, other] = [s.open(), s.open()];
        s.send(h, ev(100, "1"));
        s.send(h, ev(10, "2"));
        s.send(h, { event: "big", id: "3", text: "3".repeat(150) }); // 175 bytes: 285 pending
        s.pending(h);
        s.drain(h, [13], 120); // 165 pending, moved to the front by the next frame
        s.send(h, ev(200, "4"));
        s.send(h, ev(140, "5")); // 505 pending
        s.pending(h);
        s.send(h, ev(8, "", Status.NO_SPACE)); // 8 bytes would fit its own empty space
        s.comment(h, "");
        s.comment(h, "x"); // exactly full
        s.send(h, ev(8, "", Status.NO_SPACE));
        s.send(other, ev(100, "o", Status.NO_SPACE));
        s.stat(h, STAT_PENDING);
        s.drain(h, [64]);
        s.send(h, ev(8, ""));
        s.send(other, ev(100, "o"));
        s.drain(other, [0]);
        s.drain(h, [0]);
      },
    },
    {
      name: "release/consume", about: "the wide region goes back when out_consume takes the holder's last pending byte, not before",
      run: (s) => {
        setup(s);
        const [a, b] = [s.open(), s.open()];
        s.send(a, ev(100, "a"));
        s.consume(a, 99);
        s.send(b, ev(100, "b", Status.NO_SPACE));
        s.consume(a, 0);
        s.send(b, ev(100, "b", Status.NO_SPACE));
        s.consume(a, 1);
        s.consume(a, 0);
        s.send(b, ev(100, "b"));
        s.send(a, ev(OUT, "a"));
        s.send(a, ev(100, "a", Status.NO_SPACE));
        s.pending(a);
        s.pending(b);
        s.drain(a, [OUT]);
        s.drain(b, [OUT]);
      },
    },
    {
      name: "release/take", about: "out_take of the holder's bytes gives the wide region back at once",
      run: (s) => {
        setup(s);
        const [a, b] = [s.open(), s.open()];
        s.send(a, ev(300, "a"));
        s.drain(a, [0]);
        s.send(b, ev(300, "b"));
        s.send(a, ev(300, "a", Status.NO_SPACE));
        s.drain(b, [0]);
        s.send(a, ev(300, "a"));
        s.drain(a, [0]);
      },
    },
    {
      name: "release/close", about: "closing the holder drops its bytes and frees the wide region (closing another does not); its row's next connection starts in its own space",
      run: (s) => {
        setup(s);
        const [a, b, c] = [s.open(), s.open(), s.open()];
        s.send(a, ev(300, "a"));
        s.send(c, ev(20, "c"));
        s.close(c);
        s.send(b, ev(300, "b", Status.NO_SPACE));
        s.close(a);
        s.send(b, ev(300, "b"));
        const d = s.open();
        s.outLen(d);
        s.send(d, ev(OUT, "d"));
        s.pending(d);
        s.drain(d, [5]);
        s.send(d, ev(100, "d", Status.NO_SPACE));
        s.drain(b, [0]);
        s.send(d, ev(100, "d"));
        s.drain(d, [0]);
      },
    },
    {
      name: "comment", about: "a comment larger than outBytes goes wide as an event does: appended to by later frames, NO_SPACE while held elsewhere, TOO_LARGE past both",
      run: (s) => {
        setup(s);
        const [a, b] = [s.open(), s.open()];
        s.comment(a, "c".repeat(100));
        s.comment(a, "line\nline\r\nline");
        s.comment(b, "d".repeat(100), { expect: Status.NO_SPACE });
        s.comment(b, "d".repeat(WIDE - 2), { expect: Status.TOO_LARGE });
        s.send(a, ev(100));
        s.stat(a, STAT_EVENTS);
        s.pending(a);
        s.drain(a, [11]);
        s.comment(b, "d".repeat(WIDE - 3));
        s.drain(b, [0]);
      },
    },
    {
      name: "keep-alive", about: "tick frames the keep-alive into the space a connection holds: the wide region while it holds it (none once that is full, though its own space is empty), its own after",
      run: (s) => {
        s.init(2, OUT, 1024, 100);
        s.wideInit(256);
        const [a, b] = [s.open(), s.open()];
        s.send(a, ev(248, "a"));
        s.tick(100);
        s.pending(a);
        s.comment(a, ""); // 253 pending
        s.tick(200); // 255
        s.tick(300); // one byte free: no keep-alive
        s.stat(a, STAT_DEADLINE);
        s.outLen(a);
        s.drain(a, [100]);
        s.tick(400);
        s.pending(a);
        s.drain(a, [1]);
        s.drain(b, [1]);
      },
    },
    {
      name: "history", about: "a recorded frame framed in the wide region is recorded as any other: history_ptr and history_len give it; a refused one is not recorded",
      run: (s) => {
        s.init(2, OUT, 1024, 0);
        s.historyInit(8, 2048);
        s.wideInit(WIDE);
        const [a, b] = [s.open(), s.open()];
        s.send(a, { flags: RECORD, id: "w1", event: "big", text: "h".repeat(300) });
        s.historyFrame(0);
        s.historyFind("w1");
        s.send(b, { flags: RECORD, id: "w2", text: "h".repeat(300), expect: Status.NO_SPACE });
        s.historyCount();
        s.historyFind("w2", { expect: Status.ID_UNKNOWN });
        s.send(a, { flags: RECORD, id: "s", text: "small" });
        s.drain(a, [0]);
        s.send(b, { flags: RECORD, id: "w2", text: "i".repeat(300) });
        for (let i = 0; i < 3; i++) s.historyFrame(i);
        s.historyFind("w2");
        s.drain(b, [64]);
      },
    },
  ];
  // The same events and comments, in the wide region and in a connection's own large space:
  // generate.ts checks the two drain the same bytes.
  for (const [name, outBytes, wideBytes] of [["in-wide", OUT, 4096], ["in-own-space", 4096, 0]] as const) {
    out.push({
      name: `same-bytes/${name}`, about: "a frame in the wide region is byte for byte the frame a connection with outBytes that large gets",
      run: (s) => {
        s.init(1, outBytes, 8192, 0);
        if (wideBytes) s.wideInit(wideBytes);
        s.shapeInit(2, 256);
        s.shapeDefine(keyList(["id", "name", "value"]), ["id", "name", "value"]);
        const h = s.open();
        const events: SendSpec[] = [
          { text: "first line\r\nsecond\rthird\n" + "t".repeat(200) + "\n\nafter a blank" },
          { event: "update", id: "17", retry: 2500, text: "ü✓🎉 ".repeat(30) },
          { json: { list: Array.from({ length: 30 }, (_, i) => i * 1.5), s: "quote\"back\\slash \u0001 ü✓🎉", nested: { a: [null, true, false, -0, 1e21, 5e-324] } } },
          { tape: new Uint8Array(shaped(0, [12345, "x".repeat(80), 2.5])), means: { id: 12345, name: "x".repeat(80), value: 2.5 } },
          { tape: new Uint8Array(shaped(0, [SKIP, "q\"".repeat(40), null])), means: { name: "q\"".repeat(40), value: null } },
          { event: "e".repeat(100), tape: new Uint8Array([TAG_ARRAY, TAG_STR_AT, ...le32(0), ...le32(100), TAG_ARRAY_END]), means: ["e".repeat(100)] },
          { id: "i".repeat(256), noData: true },
        ];
        for (const e of events) {
          s.send(h, e);
          s.drain(h, [0]);
        }
        s.comment(h, "comment ".repeat(20) + "\nnext line");
        s.send(h, events[0]!);
        s.send(h, events[2]!);
        s.drain(h, [37]);
      },
    });
  }
  for (let n = 0; n < 4; n++) {
    out.push({
      name: `random/${n}`, about: "a long random script around the wide region: frames below, between and past outBytes and the wide region, drains, takes, closes, ticks",
      run: (s) => {
        const outBytes = 64 + 32 * n;
        const wideBytes = 300 + 150 * n;
        s.init(4, outBytes, 2048, n % 2 ? 300 : 0);
        s.wideInit(wideBytes);
        // Payloads mostly within outBytes, often between it and the wide region, now and then past both.
        const size = (): number => {
          const u = rand();
          return u < 0.45 ? 8 + int(outBytes - 8) : u < 0.9 ? outBytes + 1 + int(wideBytes - outBytes) : wideBytes + 1 + int(20);
        };
        const open: number[] = [];
        let now = 0;
        for (let op = 0; op < 300; op++) {
          const h = open.length ? pick(open) : 0;
          const r = int(20);
          if (!open.length || (r === 0 && open.length < 4)) open.push(s.open());
          else if (r < 8) s.send(h, { text: `${op} ${"r".repeat(size())}`, ...(rand() < 0.3 ? { event: "ev", id: `${op}` } : {}) });
          else if (r < 10) s.comment(h, "k".repeat(size()));
          else if (r < 14) s.drain(h, [1 + int(40), 1 + int(5)], rand() < 0.5 ? int(300) : Infinity);
          else if (r < 15) s.drain(h, [0]);
          else if (r < 16 && open.length > 1) { s.close(h); open.splice(open.indexOf(h), 1); }
          else if (r < 18) { now += int(400); s.tick(now); }
          else if (r < 19) s.pending(h);
          else { s.stat(h, int(7)); s.nextDeadline(); }
        }
        for (const h of open) s.drain(h, [97]);
      },
    });
  }
  return out;
}

export function categories(): Record<string, Script[]> {
  // wide comes last: its scripts draw from the seeded generator as they run, after every other's.
  return {
    abi: abi(), init: initScripts(), open: open(), "send-text": sendText(), "send-fields": sendFields(),
    json: json(), comment: comment(), close: close(), drain: drain(), time: time(), stats: stats(), history: history(), shapes: shapes(), random: random(),
    wide: wide(),
  };
}
