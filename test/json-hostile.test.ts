// Hostile payloads at the engine: polluted prototypes, Proxies, functions with toJSON, odd
// prototypes, other realms, re-entrant sends and values whose tape outgrows their text. Each
// frame must be JSON.stringify's text; each refusal typed, leaving no state behind.
// (test/json-differential.test.ts drives the same over real sockets with random graphs.)
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { JsonValueError, ReentrantSendError, type Engine } from "../bindings/index.js";
import { assertSameAsStringify } from "./support/stringify.js";
import { engine, text } from "./support/wasm.js";

/** Runs `body` while Object.prototype has these enumerable keys. */
function polluted(keys: Record<string, unknown>, body: () => void): void {
  for (const [k, value] of Object.entries(keys)) Object.defineProperty(Object.prototype, k, { value, enumerable: true, configurable: true, writable: true });
  try {
    body();
  } finally {
    for (const k of Object.keys(keys)) delete (Object.prototype as Record<string, unknown>)[k];
  }
}

const frameOf = (e: Engine, value: unknown): string => {
  const c = e.open();
  try {
    e.send(c, value);
    return text(e.drain(c));
  } finally {
    e.close(c);
  }
};

/** Sends on one connection of `e`: each call's frame. */
function stream(e: Engine): (value: unknown) => string {
  const c = e.open();
  return (value) => {
    e.send(c, value);
    return text(e.drain(c));
  };
}

for (const compileShapes of [true, false]) describe(`shapes never take inherited keys (${compileShapes ? "compiled" : "key-loop"} readers)`, () => {
  it("a key made enumerable on Object.prototype after a shape with it was seen stays off the wire", () => {
    const sent = stream(engine({ compileShapes }));
    // Each time, the shape with the key is the last one seen at that depth.
    const cases: [unknown, unknown, string][] = [
      [{ isAdmin: false }, {}, "data: {}\n\n"],
      [{ a: 1, isAdmin: false }, { a: 1 }, 'data: {"a":1}\n\n'],
      [[{ role: "user", isAdmin: false }], [{ role: "user" }], 'data: [{"role":"user"}]\n\n'],
      [{ isAdmin: false }, { isAdmin: false }, 'data: {"isAdmin":false}\n\n'], // an own key still goes
    ];
    for (const [before, after, want] of cases) {
      expect(sent(before)).toBe(`data: ${JSON.stringify(before)}\n\n`);
      polluted({ isAdmin: true }, () => expect(sent(after)).toBe(want));
    }
  });

  it("never takes a polluted Object.prototype index for the shape last seen at a depth", () => {
    const sent = stream(engine({ compileShapes }));
    expect(sent({ secret: "s3cr3t", b: 2 })).toBe('data: {"secret":"s3cr3t","b":2}\n\n'); // shape 0
    // What a query-string parser with a prototype-pollution hole could plant: a forged shape at depths 1 and 2, junk at 3.
    polluted({ 1: { id: 0, keys: ["a", "b"], memo: [] }, 2: { id: 0, keys: ["a"], memo: [] }, 3: "x" }, () => {
      for (const v of [[{ a: "public", b: 1 }], [[{ a: 1 }]], [[[{ k: 1 }]]], { o: { a: 1, b: 2 } }]) {
        expect(sent(v)).toBe(`data: ${JSON.stringify(v)}\n\n`);
      }
    });
  });

  it("reads a Proxy's keys once and never asks for its prototype", () => {
    const e = engine({ compileShapes });
    const calls = { ownKeys: 0, getPrototypeOf: 0 };
    const shifting = new Proxy({ a: 1, b: 2, c: 3 } as Record<string, number>, {
      // Each call answers differently: the first list is what JSON.stringify uses.
      ownKeys: (t) => (calls.ownKeys++ % 2 === 0 ? ["a", "b"] : Reflect.ownKeys(t)),
      getPrototypeOf: () => {
        calls.getPrototypeOf++;
        throw new Error("JSON.stringify never asks");
      },
    });
    // Twice each: the second time the shape is known (the recent-shape path).
    for (const value of [shifting, shifting, { p: shifting }, { p: shifting }, [shifting]]) {
      calls.ownKeys = 0;
      const want = `data: ${JSON.stringify(value)}\n\n`;
      calls.ownKeys = 0;
      expect(frameOf(e, value)).toBe(want);
      expect(calls.ownKeys).toBe(1);
    }
    calls.ownKeys = 0;
    expect(frameOf(e, shifting)).toBe('data: {"a":1,"b":2}\n\n');
    expect(calls.getPrototypeOf).toBe(0);
  });
});

describe("what JSON.stringify decides by internal slots, not prototypes", () => {
  it("calls toJSON on functions and classes, and leaves out those without", () => {
    class Money {
      static toJSON() {
        return "the Money class";
      }
    }
    const fn = Object.assign(() => 0, { toJSON: () => 5 });
    const values = [{ a: fn }, [fn], { cls: Money, plain: () => 1 }, [() => 1], { m: Money, f: fn }];
    assertSameAsStringify(engine(), values);
    assertSameAsStringify(engine({ compileShapes: false }), values);
    expect(frameOf(engine(), Object.assign(() => 0, { toJSON: () => "fn" }))).toBe('data: "fn"\n\n');
    expect(frameOf(engine(), Money)).toBe('data: "the Money class"\n\n');
    expect(() => frameOf(engine(), () => 0)).toThrow(JsonValueError);
  });

  it("writes arrays as arrays whatever their prototype, Proxies of arrays too", () => {
    const values = [
      Object.setPrototypeOf([1, 2], Object.prototype), Object.setPrototypeOf([3], null),
      new (class extends Array {})(), new Proxy([4, 5], { getPrototypeOf: () => Object.prototype }),
      { nested: Object.setPrototypeOf(["x"], Object.prototype) }, Object.setPrototypeOf({ 0: "not", length: 1 }, Array.prototype),
    ];
    assertSameAsStringify(engine(), values);
    expect(frameOf(engine(), values[0])).toBe("data: [1,2]\n\n");
  });

  it("unwraps boxed primitives by their slot, whatever their prototype or own keys", () => {
    const values = [
      Object.setPrototypeOf(new Number(1), Object.prototype), Object.setPrototypeOf(new String("s"), String.prototype.constructor.prototype),
      Object.assign(new Number(5), { a: 1 }), Object.setPrototypeOf(new Boolean(false), Array.prototype),
      { n: Object.setPrototypeOf(new Number(2.5), Object.prototype) }, [Object.assign(new String("ab"), { k: 1 })],
      Object(Symbol("boxed symbols are objects to JSON")), new Proxy(new Number(3), {}), // a Proxy has no slot
      runInNewContext("new Number(7)"), runInNewContext("({ a: [1, new String('r')] })"),
      Object.assign(new Number(1), { valueOf: () => 42 }), // ToNumber runs valueOf
    ];
    assertSameAsStringify(engine(), values);
    expect(frameOf(engine(), values[0])).toBe("data: null\n\n"); // ToNumber("[object Object]")
    expect(frameOf(engine(), values[2])).toBe("data: 5\n\n");
    expect(() => frameOf(engine(), Object(1n))).toThrow(JsonValueError);
    // ToNumber of a BigInt, and ToString of a box with no way to a primitive, throw in both.
    for (const thrower of [Object.assign(new Number(1), { valueOf: () => 1n }), Object.setPrototypeOf(new String("s"), null)]) {
      expect(() => JSON.stringify(thrower)).toThrow(TypeError);
      expect(() => frameOf(engine(), thrower)).toThrow(TypeError);
    }
  });

  it("sends another realm's Uint8Array as text, a Proxy of one as JSON", () => {
    const foreign = runInNewContext("new Uint8Array([104, 105])") as Uint8Array;
    expect(foreign instanceof Uint8Array).toBe(false);
    expect(frameOf(engine(), foreign)).toBe("data: hi\n\n");
    expect(frameOf(engine(), Buffer.from("buf"))).toBe("data: buf\n\n");
    expect(frameOf(engine(), new Proxy(new Uint8Array([1]), {}))).toBe('data: {"0":1}\n\n');
    expect(frameOf(engine(), runInNewContext("new Uint16Array([1])"))).toBe('data: {"0":1}\n\n');
  });
});

describe("any value whose frame fits is sent, whatever its tape costs", () => {
  const OUT = 64 * 1024; // the default outBytes, staged 4 × + 4 KiB
  // Items with the highest tape-to-text ratios, each repeated until the frame is just full.
  const items: [string, unknown][] = [
    ["small integers", 0], ["negative integers", -1], ["short doubles", 0.5], ["empty strings", ""],
    ["shaped objects of 64 skipped members", Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, undefined]))],
    ["objects of one kept empty string", { a: "" }], ["empty arrays", []], ["lone surrogates", "\ud800"],
    ["nested integers", [[0]]], ["skips between members", { a: 0, b: undefined, c: 0, d: undefined }],
    ["skips around one-byte members", { a: undefined, b: null, c: undefined, d: true, e: undefined, f: false, g: () => 0 }],
  ];
  for (const [name, item] of items) {
    it(`a frame of ${OUT} bytes of ${name}`, () => {
      const e = engine();
      const each = JSON.stringify(item).length + 1;
      const value = Array.from({ length: Math.floor((OUT - 8 - 1) / each) }, () => item);
      const want = `data: ${JSON.stringify(value)}\n\n`;
      expect(Buffer.byteLength(want)).toBeLessThanOrEqual(OUT);
      expect(Buffer.byteLength(want)).toBeGreaterThan(OUT - 2 * each - 16);
      expect(frameOf(e, value)).toBe(want);
    });
  }

  it("the issue's case: 30,000 zeros, a 60,009-byte frame", () => {
    expect(frameOf(engine(), new Array(30000).fill(0))).toBe(`data: [${new Array(30000).fill(0).join(",")}]\n\n`);
  });
});

describe("a send from inside a payload's own code", () => {
  it("is refused with ReentrantSendError, and the outer send and every stream go on unharmed", () => {
    const e = engine({ history: { maxEvents: 4, maxBytes: 1024 } });
    const [a, b] = [e.open(), e.open()];
    const refused: unknown[] = [];
    const attempt = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        refused.push(error);
      }
    };
    const hostile = {
      toJSON() {
        attempt(() => e.send(a, 1));
        attempt(() => e.send(b, { nested: [1, 2, 3] }));
        attempt(() => e.comment(b, "x"));
        attempt(() => e.control(b, { retry: 5 }));
        attempt(() => e.open());
        attempt(() => e.historyIndex("1"));
        return 2;
      },
    };
    e.send(a, [[hostile]]);
    expect(text(e.drain(a))).toBe("data: [[2]]\n\n");
    expect(text(e.drain(b))).toBe("");
    expect(refused).toHaveLength(6);
    for (const error of refused) expect(error).toBeInstanceOf(ReentrantSendError);
    // Options are the caller's code too.
    const options = { get event() { attempt(() => e.send(b, "inner")); return "outer"; } };
    e.send(a, "x", options);
    expect(text(e.drain(a))).toBe("event: outer\ndata: x\n\n");
    expect(refused).toHaveLength(7);

    // Nothing is left behind: depth and cycle checks hold on both streams.
    const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)]);
    for (const conn of [a, b]) {
      e.send(conn, nest(256));
      expect(text(e.drain(conn))).toBe(`data: ${JSON.stringify(nest(256))}\n\n`);
      for (let depth = 257; depth <= 260; depth++) expect(() => e.send(conn, nest(depth))).toThrow(JsonValueError);
      const cyclic: { a: { b: { c?: unknown } } } = { a: { b: {} } };
      cyclic.a.b.c = cyclic;
      expect(() => e.send(conn, cyclic)).toThrow(/cyclic/);
      e.send(conn, 1);
      expect(text(e.drain(conn))).toBe("data: 1\n\n");
    }
  });
});

it("stops offering key lists once the core's shape table is full, so the writer's memory stays bounded", () => {
  const e = engine({ shapes: { maxShapes: 4, maxBytes: 256 } });
  const values = Array.from({ length: 20_000 }, (_, i) => ({ [`key${i}`]: i }));
  assertSameAsStringify(e, values);
  // White box: the writer's map of key lists (bindings/tape.ts, `shapes`).
  const lists = (e as unknown as { tape: { shapes: Map<string, unknown> } }).tape.shapes;
  expect(lists.size).toBeLessThanOrEqual(5);
});

describe("an event that waits for room is serialised once, when it is sent", () => {
  it("keeps what its toJSON and getters gave at the call, and sends those bytes later", () => {
    const e = engine({ maxConnections: 1, outBytes: 256 });
    const c = e.open();
    e.send(c, "x".repeat(230)); // the core now has no room for the next event
    let calls = 0;
    const payload = { n: 1, get later() { calls++; return `call ${calls}`; } };
    const held = e.sendOrHold(c, payload, { event: "e", id: "7" });
    expect(typeof held).toBe("object");
    payload.n = 2; // too late: JSON.stringify would have read it at the call
    const behind = e.hold({ toJSON: () => (calls++, "behind") });
    expect(calls).toBe(2);
    if (typeof held === "number") throw new Error("unreachable");
    expect(e.sendHeld(c, held)).toBe(0); // still no room: stays held
    text(e.drain(c));
    expect(e.sendHeld(c, held)).toBeGreaterThan(0);
    expect(e.sendHeld(c, behind)).toBeGreaterThan(0);
    expect(text(e.drain(c))).toBe('event: e\nid: 7\ndata: {"n":1,"later":"call 1"}\n\ndata: "behind"\n\n');
    expect(calls).toBe(2);
    expect(() => e.sendHeld(c, held)).toThrow(TypeError); // sent once
    e.release(held); // idempotent
  });

  it("keeps the strings its tape names in place while it waits, however many are kept after it", () => {
    const e = engine({ maxConnections: 3, outBytes: 1024 });
    const [full, free] = [e.open(), e.open()];
    const record = (i: number, name: string) => ({ i, name, unit: "celsius" });
    // Twice in a row: the second tape names "sensor-a" and "celsius" where they are kept.
    e.send(free, record(0, "sensor-a"));
    e.send(full, "x".repeat(1000));
    const held = e.sendOrHold(full, record(1, "sensor-a"));
    if (typeof held === "number") throw new Error("the core should be full");
    expect(held.pinsKept).toBe(true);
    // Enough other repeated strings to fill the 4 KiB kept space many times over.
    for (let i = 0; i < 2000; i++) {
      const name = `name-${i}-${"k".repeat(40)}`;
      e.send(free, record(i, name));
      e.send(free, record(i, name));
      text(e.drain(free));
    }
    text(e.drain(full));
    expect(e.sendHeld(full, held)).toBeGreaterThan(0);
    expect(text(e.drain(full))).toBe(`data: ${JSON.stringify(record(1, "sensor-a"))}\n\n`);
    // Released, the space starts over and later records come out right.
    const later = [record(5, "again"), record(6, "again"), record(7, "again")];
    assertSameAsStringify(e, later);
  });
});

it("without node:util (browsers, workerd), boxes are told by prototype and brand, and a throwing getPrototypeOf trap is no box", () => {
  const script = fileURLToPath(new URL("./support/json-without-node-util.ts", import.meta.url));
  const { out, trapped } = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8" })) as {
    out: { want: string; got: string }[];
    trapped: number;
  };
  for (const { want, got } of out) expect(got).toBe(want);
  expect(trapped).toBeGreaterThan(0); // the documented difference: the trap runs there
});
