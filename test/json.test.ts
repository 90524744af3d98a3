// Differential: the core's JSON text equals JSON.stringify's, byte for byte.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { SseExports } from "../bindings/abi.js";
import { FrameTooLargeError, JsonValueError, Status, type EngineOptions } from "../bindings/index.js";
import { TapeWriter } from "../bindings/tape.js";
import { assertSameAsStringify } from "./support/stringify.js";
import { engine, engine as makeEngine, rng, text, wasmModule } from "./support/wasm.js";

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function randomDouble(next: () => number): number {
  switch (Math.floor(next() * 4)) {
    case 0: // any bit pattern, NaN and infinities included
      u32[0] = next() * 2 ** 32;
      u32[1] = next() * 2 ** 32;
      return f64[0]!;
    case 1: { // decimal-looking: a few digits at any scale
      const digits = String(Math.floor(next() * 10 ** (1 + Math.floor(next() * 17))));
      return Number(`${digits}e${Math.floor(next() * 660) - 340}`);
    }
    case 2: // money-like and small integers
      return Math.round(next() * 1e8) / 10 ** Math.floor(next() * 6);
    default:
      return (next() < 0.5 ? -1 : 1) * Math.floor(next() * 2 ** (1 + Math.floor(next() * 70)));
  }
}

const STRINGS = ["", "a", "é", "😀", "\ud800", "\udc00x", "\ud83d", "\"", "\\", "\b\f\n\r\t", "\x00\x01\x1f\x7f",
  "\u2028\u2029", "</script>", "long ".repeat(30), "中文", "\uFEFF", "a\ud800\udc00b"];

function randomString(next: () => number): string {
  let s = "";
  const n = Math.floor(next() * 4);
  for (let i = 0; i < n; i++) s += STRINGS[Math.floor(next() * STRINGS.length)];
  return s;
}

class Point {
  constructor(readonly x: number, readonly y: number) {}
}

function randomValue(next: () => number, depth: number): unknown {
  const r = Math.floor(next() * (depth > 5 ? 12 : 16));
  switch (r) {
    case 0: return null;
    case 1: return next() < 0.5;
    case 2: case 3: return randomDouble(next);
    case 4: case 5: return randomString(next);
    case 6: return undefined;
    case 7: return [() => 1, Symbol("s"), undefined][Math.floor(next() * 3)];
    case 8: return [new Number(randomDouble(next)), new String(randomString(next)), new Boolean(next() < 0.5)][Math.floor(next() * 3)];
    case 9: return new Date(Math.floor(next() * 4e12));
    case 10: return { toJSON: (key: string) => `key:${key}` };
    case 11: return new Point(randomDouble(next), -0);
    case 12: case 13: {
      const a: unknown[] = [];
      const n = Math.floor(next() * 6);
      for (let i = 0; i < n; i++) a.push(randomValue(next, depth + 1));
      if (next() < 0.1) a.length += 2; // holes
      return a;
    }
    default: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(next() * 6);
      for (let i = 0; i < n; i++) {
        const key = next() < 0.3 ? String(Math.floor(next() * 20)) : randomString(next);
        o[key] = randomValue(next, depth + 1);
      }
      return o;
    }
  }
}

describe("JSON, byte-identical to JSON.stringify", () => {
  it("formats 1,000,000 random doubles (bit patterns and decimal-looking) like JSON.stringify", () => {
    const next = rng(1);
    const values = Array.from({ length: 1_000_000 }, () => randomDouble(next));
    assertSameAsStringify(engine({ maxConnections: 1, outBytes: 1 << 20 }), values);
  });

  it("formats the edge cases of Number::toString", () => {
    assertSameAsStringify(engine(), [0, -0, 1, -1, 1e21, 1e-7, 1e-6, 123e-20, 5e-324, -5e-324, Number.MAX_VALUE,
      Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 64, 0.1, 0.2, 0.30000000000000004, 1 / 3, NaN,
      Infinity, -Infinity, 123456789012345680000, 999999999999999900000, 1.5e300, 2.2250738585072014e-308]);
  });

  it("serialises 100,000 random nested values like JSON.stringify", () => {
    const next = rng(2);
    const values: unknown[] = [];
    while (values.length < 100_000) {
      const v = randomValue(next, 0);
      // A top-level string goes out as text, not JSON: wrap it.
      if (JSON.stringify(v) !== undefined) values.push(typeof v === "string" ? [v] : v);
    }
    assertSameAsStringify(engine({ maxConnections: 1, outBytes: 1 << 20 }), values);
  });

  it("honours toJSON with its key, boxed primitives, skipped members and holes", () => {
    const withKey = { toJSON: (k: string) => `k=${k}` };
    assertSameAsStringify(engine(), [
      { a: withKey, b: [withKey, withKey] },
      { u: undefined, f() {}, s: Symbol("x"), kept: 1 },
      [undefined, () => 0, Symbol("y")],
      [1, , 3], // eslint-disable-line no-sparse-arrays
      { 2: "b", 1: "a", z: 0, "-1": "n", 10: "c" },
      new Map([[1, 2]]), new Set([1]), new Uint8Array([1, 2]).buffer, [new Uint8Array([1, 2])],
      Object.assign(Object.create({ inherited: 1 }), { own: 2 }),
      [{ toJSON: () => undefined, x: 1 }],
      { nested: { toJSON: () => ({ toJSON: () => "only once" }) } },
      { date: new Date(0), invalid: new Date(NaN) },
      { n: new Number(3), s: new String("s"), b: new Boolean(false) },
      new String("a boxed string is an object, so it goes as JSON"),
    ]);
  });
});

describe("payloads JSON cannot express are refused before any byte", () => {
  const cases: [string, unknown][] = [
    ["a BigInt", { n: 1n }],
    ["a boxed BigInt", [Object(1n)]],
    ["a cycle", (() => { const o: Record<string, unknown> = {}; o.self = { o }; return o; })()],
    ["nesting deeper than 256", JSON.parse("[".repeat(257) + "]".repeat(257))],
    ["undefined", undefined],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
  ];
  for (const [name, value] of cases) {
    it(`refuses ${name} with a TypeError and leaves pending bytes as they were`, () => {
      const e = engine();
      const c = e.open();
      e.send(c, "before");
      const before = e.pending(c).slice();
      expect(() => e.send(c, value)).toThrow(JsonValueError);
      expect(() => e.send(c, value)).toThrow(TypeError);
      expect(e.pending(c)).toEqual(before);
      expect(e.stats(c).events).toBe(1);
    });
  }

  it("accepts nesting of exactly 256 levels", () => {
    assertSameAsStringify(engine(), [JSON.parse("[".repeat(256) + "]".repeat(256))]);
  });

  it("lets a throwing toJSON propagate, with nothing written", () => {
    const e = engine();
    const c = e.open();
    const boom = new Error("boom");
    expect(() => e.send(c, { x: { toJSON() { throw boom; } } })).toThrow(boom);
    expect(e.pending(c).length).toBe(0);
  });
});

for (const compileShapes of [true, false]) describe(`object shapes (key lists the core renders once), ${compileShapes ? "compiled readers" : "key-loop readers"}`, () => {
  const engine = (options: EngineOptions = {}) => makeEngine({ ...options, compileShapes });

  const records = Array.from({ length: 2000 }, (_, i) => ({
    counter: i, name: i % 7 ? "sensor-7" : undefined, value: 20 + (i % 50) / 2, nested: { a: i, "b\"": [i] },
  }));

  it("serialises objects that repeat a shape, with members skipped, like JSON.stringify", () => {
    assertSameAsStringify(engine({ outBytes: 1 << 20 }), [records, ...records.slice(0, 100)]);
  });

  it("falls back to spelled-out objects when the shape table is full or off", () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, shared: true }));
    assertSameAsStringify(engine({ outBytes: 1 << 20, shapes: { maxShapes: 2, maxBytes: 64 } }), [many, ...many]);
    assertSameAsStringify(engine({ outBytes: 1 << 20, shapes: false }), [many, records]);
  });

  it("ignores inherited enumerable keys even when Object.prototype has some", () => {
    const e = engine({ outBytes: 1 << 20 });
    assertSameAsStringify(e, records.slice(0, 10)); // the shapes are now known
    Object.defineProperty(Object.prototype, "inherited", { value: 1, enumerable: true, configurable: true });
    try {
      const fresh = () => ({ fresh: 1, other: [2] }); // a shape first seen now
      const shadowing = () => ({ a: 1, inherited: 2 }); // an own key hides the inherited one
      assertSameAsStringify(e, [...records.slice(0, 10), { counter: 1 }, Object.create({ own: false }), fresh(), fresh(), shadowing(), shadowing()]);
    } finally {
      delete (Object.prototype as { inherited?: number }).inherited;
    }
  });

  it("never writes a tape past the end it is given, even where the memory goes on", () => {
    const memory = new ArrayBuffer(256);
    const bytes = new Uint8Array(memory);
    const writer = new TapeWriter(memory);
    expect(() => writer.write("é".repeat(40), 0, 60)).toThrow(FrameTooLargeError);
    expect(bytes.subarray(60).every((b) => b === 0)).toBe(true);
    expect(writer.write("é".repeat(20), 0, 60)).toBe(45); // the same writer, a text that fits: tag, u32, 40 bytes
  });

  it("writes records on the core's short path and hands everything else to the general one, with the same text", () => {
    // Each shape repeats, so its later objects cross as records. The short path takes numbers,
    // literals and plain UTF-8 text; a member that needs an escape, UTF-16 text or nesting
    // sends the whole object down the general path, after members it had already written.
    const NEEDS = ["\"", "\\", "\n", "\u0001", "\ud800", "😀", { n: 1 }, [1]];
    const plain = (i: number) => ({ a: i, b: `t${i}`, c: i % 3 ? i / 4 : -0, d: i % 2 === 0, e: null, f: Infinity, g: NaN });
    const values: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      values.push(plain(i));
      const spoiled: Record<string, unknown> = plain(i);
      spoiled["abcdefg"[i % 7]!] = NEEDS[i % NEEDS.length];
      values.push(spoiled);
      values.push({ a: i, b: undefined, c: () => 1, d: Symbol("s"), e: "x".repeat(i % 40) }); // skipped members
    }
    assertSameAsStringify(engine({ outBytes: 1 << 20 }), values);
  });

  it("stops a record at the end of its connection's space, never writing into the next one", () => {
    // A small outbound space fills mid-record at every offset. The short path must leave no
    // byte behind when room runs out (each frame is retried whole after a drain) and never
    // reach past its own space: the next connection's space holds a frame that must survive.
    const OUT = 256;
    const e = engine({ outBytes: OUT, maxConnections: 2 });
    const conn = e.open();
    const neighbour = e.open();
    const kept = `data: ${"n".repeat(OUT - 8)}\n\n`;
    e.send(neighbour, "n".repeat(OUT - 8));
    let want = "";
    let got = "";
    for (let i = 0; i < 3000; i++) {
      const v = { a: -(2 ** 52) - i * 1.5, b: 1e21 + i * 1e6, c: i % 5 ? "x".repeat(i % 9) : "y\"", d: -1.2345678901234567e-300 };
      want += `data: ${JSON.stringify(v)}\n\n`;
      if (e.trySend(conn, v) === 0) {
        const out = e.drain(conn);
        expect(out.length).toBeLessThanOrEqual(OUT);
        got += text(out);
        e.send(conn, v);
      }
    }
    got += text(e.drain(conn));
    expect(got).toBe(want);
    expect(text(e.drain(neighbour))).toBe(kept);
  });

  it("fits a record that fills the outbound space exactly", () => {
    const record = { counter: 123456, name: "sensor-7", value: 20.5, ok: true };
    const frame = `data: ${JSON.stringify(record)}\n\n`;
    const e = engine({ outBytes: frame.length });
    const conn = e.open();
    for (let round = 0; round < 3; round++) {
      expect(e.send(conn, record)).toBe(frame.length); // the first defines the shape, the rest are records
      expect(text(e.drain(conn))).toBe(frame);
    }
    expect(() => e.send(conn, { ...record, counter: 1234567 })).toThrow(FrameTooLargeError);
  });

  it("keeps strings that repeat at a member in staging, with the same text as JSON.stringify", () => {
    // Per member: a value seen twice in a row is kept (crossing as its place in staging), a
    // kept value costs nothing more, and a change writes inline until the new value repeats.
    // Texts of every kind come and go. In the last part, b and c fill the 4 KiB kept space
    // again and again, mid-record, while a's text (kept first, at the space's start) is named
    // by the same tape: the space may only start over between tapes.
    const cycle = ["ok", "ok", "ok", "warn", "warn", "ok", "ok", "", "", "q\"\\\n", "q\"\\\n", "ключ", "ключ", "😀", "😀",
      "\ud800", "\ud800", "x".repeat(64), "x".repeat(64), "y".repeat(65), "y".repeat(65), "ok"];
    const values: unknown[] = [];
    for (let i = 0; i < 3 * cycle.length; i++) {
      values.push({ a: cycle[i % cycle.length], n: i, b: cycle[(i + 5) % cycle.length], c: "same" });
    }
    for (let i = 0; i < 600; i++) {
      const t = (k: number) => `${k}:${"t".repeat(40 + (k % 21))}`;
      values.push({ a: t(0), b: t((i >> 1) + 1000), c: t((i >> 1) + 2000) });
    }
    assertSameAsStringify(engine({ outBytes: 1 << 20 }), values);
  });

  it("reads members as JSON.stringify does when a getter or toJSON deletes, adds or re-adds keys on the way", () => {
    // Each object is made twice: the first defines the shape, the second takes the known-shape path.
    const makers: Array<() => object> = [
      () => ({ get a() { delete (this as { b?: number }).b; return 1; }, b: 2, c: 3 }),
      () => ({ a: 1, b: 2, get c() { delete (this as { d?: number }).d; return 3; }, d: 4 }),
      () => ({ get a() { delete (this as { b?: number }).b; (this as { b?: number }).b = 5; return 1; }, b: 2, c: 3 }),
      () => ({ get a() { (this as { z?: number }).z = 9; return 1; }, b: 2 }),
      () => ({ a: { toJSON() { delete (outer as { c?: number }).c; return "t"; } }, b: 2, c: 3 }),
      () => ({ get a() { delete (this as { b?: number }).b; delete (this as { c?: number }).c; return 1; }, b: 2, c: 3 }),
    ];
    let outer: object = {};
    const e = engine({ outBytes: 1 << 20 });
    for (const make of makers) {
      for (let round = 0; round < 2; round++) {
        outer = make();
        const want = JSON.stringify(outer);
        outer = make();
        const conn = e.open();
        e.send(conn, outer);
        expect(text(e.drain(conn))).toBe(`data: ${want}\n\n`);
        e.close(conn);
      }
    }
  });

  it("refuses misuse of the shape table with status codes", () => {
    const x = new WebAssembly.Instance(wasmModule(), {}).exports as unknown as SseExports;
    expect(x.shape_init(1, 64)).toBe(Status.NOT_INIT);
    expect(x.shape_define(0, 4)).toBe(Status.NOT_INIT);
    x.init(1, 256, 256, 0);
    expect(x.shape_define(0, 4)).toBe(Status.BAD_ARG); // no table yet
    for (const [n, b] of [[0, 64], [65536, 64], [1, 15]]) expect(x.shape_init(n!, b!)).toBe(Status.BAD_ARG);
    expect(x.shape_init(2, 32)).toBe(0);
    expect(x.shape_init(2, 32)).toBe(Status.ALREADY_INIT);
    const stage = (bytes: number[]) => new Uint8Array(x.memory.buffer).set(bytes, x.staging_ptr());
    const keyList = (...keys: string[]) => [keys.length, 0, 0, 0, ...keys.flatMap((k) => [0x0a, k.length, 0, 0, 0, ...Buffer.from(k)])];
    expect(x.shape_define(-1, 4)).toBe(Status.BAD_ARG);
    expect(x.shape_define(250, 7)).toBe(Status.BAD_ARG);
    stage([1, 0, 0, 0, 0x06]);
    expect(x.shape_define(0, 5)).toBe(Status.BAD_TAPE);
    stage(keyList("a".repeat(40)));
    expect(x.shape_define(0, 49)).toBe(Status.CAPACITY); // more key bytes than the table has
    stage(keyList("a", "b"));
    expect(x.shape_define(0, 16)).toBe(0);
    const c = x.conn_open(-1);
    stage([0x0c, 0, 0, 0x00, 0x0d]);
    expect(x.send(c, 8, 0, 0, 5, 0)).toBeGreaterThan(0);
    expect(new TextDecoder().decode(new Uint8Array(x.memory.buffer, x.out_ptr(c), x.out_len(c)))).toBe('data: {"a":null}\n\n');
    x.out_consume(c, x.out_len(c));
    for (const tape of [[0x0c, 1, 0], [0x0c, 0], [0x0c, 0, 0, 0x00], [0x0c, 0, 0, 0x0a, 1, 0, 0, 0, 0x61, 0x00, 0x00], [0x0d]]) {
      stage(tape);
      expect([tape, x.send(c, 8, 0, 0, tape.length, 0)]).toEqual([tape, Status.BAD_TAPE]);
    }
    stage(keyList("c"));
    expect(x.shape_define(0, 10)).toBe(1);
    stage(keyList("d"));
    expect(x.shape_define(0, 10)).toBe(Status.CAPACITY); // every shape id is taken
    expect(x.out_len(c)).toBe(0);
  });
});
it("names a kept string by its place in staging (tape tag 0x0E) from its second time in a row at a member", () => {
  const memory = new ArrayBuffer(8192);
  const u8 = new Uint8Array(memory);
  const view = new DataView(memory);
  const kept = { base: 1000, start: 6000, end: 8192 };
  const writer = new TapeWriter(memory, undefined, () => 0, true, kept);
  const tapeAt = 2000;
  // Tape of { n, s }: shape (3 bytes), the integer (5), then the string's item.
  const item = (v: object) => {
    writer.write(v, tapeAt, 6000);
    return u8.subarray(tapeAt + 8, tapeAt + 17);
  };
  expect(item({ n: 1, s: "héllo" })[0]).toBe(0x04); // first sight: inline
  expect(item({ n: 2, s: "héllo" })[0]).toBe(0x0e); // twice in a row: kept
  const ref = item({ n: 3, s: "héllo" });
  expect([ref[0], view.getUint32(tapeAt + 9, true), view.getUint32(tapeAt + 13, true)]).toEqual([0x0e, 6000 - 1000, 6]);
  expect(Buffer.from(u8.subarray(6000, 6006)).toString()).toBe("héllo");
  expect(item({ n: 4, s: "other" })[0]).toBe(0x04);
  expect(item({ n: 5, s: "\ud800" })[0]).toBe(0x05);
  expect(item({ n: 6, s: "\ud800" })[0]).toBe(0x05); // lone surrogates are never kept
  expect(u8.subarray(6006).every((b) => b === 0)).toBe(true);
});

it("reads shapes in a loop over their keys where the host refuses code generation from strings (CSP, Workers)", () => {
  const records = Array.from({ length: 50 }, (_, i) => ({ counter: i, name: i % 3 ? `n${i}` : null, value: i / 4, nested: { a: [i] } }));
  const script = fileURLToPath(new URL("./support/records-without-codegen.ts", import.meta.url));
  const out = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", "--import", "tsx", script, JSON.stringify(records)], { encoding: "utf8" });
  const { frames, shaped, spelled } = JSON.parse(out) as { frames: string; shaped: number; spelled: number };
  expect(frames).toBe(records.map((r) => `data: ${JSON.stringify(r)}\n\n`).join(""));
  expect(shaped).toBeLessThan(spelled); // the keys cross once, as a shape, not with every object
});

