// Every status code, produced through the real module; after each refusal the connection's
// pending bytes and counters are exactly as they were.
import { describe, expect, it } from "vitest";
import type { SseExports } from "../bindings/abi.js";
import {
  BufferFullError, CapacityError, EngineMisuseError, FrameTooLargeError, InvalidFieldError, OutOfMemoryError,
  SseError, Status, type Engine,
} from "../bindings/index.js";
import { engine, wasmModule } from "./support/wasm.js";

function rawInstance(name = "sse"): SseExports {
  return new WebAssembly.Instance(wasmModule(name), {}).exports as unknown as SseExports;
}

/** Runs `refuse` and checks it changed nothing observable on `conn`. */
function expectUnchanged(e: Engine, conn: number, refuse: () => unknown, error: new (...a: never[]) => SseError,
  code: keyof typeof Status, pendingBefore = "pending before") {
  e.drain(conn);
  e.send(conn, pendingBefore);
  const bytes = e.pending(conn).slice();
  const stats = e.stats(conn);
  const lastId = e.lastEventId(conn);
  let thrown: unknown;
  try {
    refuse();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(error);
  expect((thrown as SseError).code).toBe(code);
  expect((thrown as SseError).status).toBe(Status[code]);
  expect(e.pending(conn)).toEqual(bytes);
  expect(e.stats(conn)).toEqual(stats);
  expect(e.lastEventId(conn)).toBe(lastId);
}

describe("refused content writes nothing", () => {
  const e = engine({ maxConnections: 2, outBytes: 512 });
  const c = e.open("start");

  it("EVENT_NAME: CR or LF in an event name", () => {
    for (const event of ["a\nb", "a\rb", "\r\n", "x\n"]) {
      expectUnchanged(e, c, () => e.send(c, "x", { event }), InvalidFieldError, "EVENT_NAME");
    }
  });

  it("ID: CR, LF or NUL in an id", () => {
    for (const id of ["1\n", "\r1", "a\0b", "\0"]) {
      expectUnchanged(e, c, () => e.send(c, "x", { id }), InvalidFieldError, "ID");
    }
  });

  it("ID_TOO_LONG: an id over 256 bytes of UTF-8", () => {
    expectUnchanged(e, c, () => e.send(c, "x", { id: "é".repeat(129) }), InvalidFieldError, "ID_TOO_LONG");
    e.send(c, "x", { id: "é".repeat(128) }); // exactly 256 bytes is fine
  });

  it("RETRY: retry that is not a non-negative integer", () => {
    for (const retry of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, "10" as unknown as number]) {
      expectUnchanged(e, c, () => e.send(c, "x", { retry }), InvalidFieldError, "RETRY");
    }
  });

  it("TOO_LARGE: a frame larger than the connection's whole space", () => {
    expectUnchanged(e, c, () => e.send(c, "x".repeat(600)), FrameTooLargeError, "TOO_LARGE");
    expectUnchanged(e, c, () => e.send(c, ["x".repeat(600)]), FrameTooLargeError, "TOO_LARGE");
    expectUnchanged(e, c, () => e.comment(c, "x".repeat(600)), FrameTooLargeError, "TOO_LARGE");
  });

  it("NO_SPACE: a frame that fits only after draining", () => {
    expectUnchanged(e, c, () => e.send(c, "z".repeat(200)), BufferFullError, "NO_SPACE", "y".repeat(300));
    expect(e.trySend(c, "z".repeat(200))).toBe(0); // the same refusal as a value
    expect(e.tryComment(c, "z".repeat(210))).toBe(0);
    expect(() => e.comment(c, "z".repeat(210))).toThrow(BufferFullError);
    expect(() => e.control(c, { id: "z".repeat(250) })).toThrow(BufferFullError);
    e.drain(c);
    e.send(c, "z".repeat(200)); // after draining, the same frame goes
  });

  it("a refusal after a partial drain keeps the remaining bytes (they may move, never change)", () => {
    const f = engine({ maxConnections: 1, outBytes: 64 });
    const conn = f.open();
    f.send(conn, "0123456789".repeat(4)); // 48 bytes
    f.consume(conn, 20);
    const rest = f.pending(conn).slice();
    expect(() => f.send(conn, "x".repeat(40))).toThrow(BufferFullError);
    expect(f.pending(conn)).toEqual(rest);
    f.send(conn, "ok"); // fits once the remaining 28 bytes move to the front
    expect(new TextDecoder().decode(f.drain(conn))).toBe(new TextDecoder().decode(rest) + "data: ok\n\n");
  });

  it("a frame that exactly fills the space is accepted, one byte more is not", () => {
    const f = engine({ maxConnections: 1, outBytes: 16 });
    const conn = f.open();
    expect(f.send(conn, "x".repeat(8))).toBe(16); // "data: " + 8 + "\n\n"
    f.drain(conn);
    expect(() => f.send(conn, "x".repeat(9))).toThrow(FrameTooLargeError);
  });
});

describe("host misuse gets a status code, never a trap", () => {
  it("NOT_INIT: any call before init", () => {
    const x = rawInstance();
    expect(x.staging_ptr()).toBe(Status.NOT_INIT);
    expect(x.staging_cap()).toBe(Status.NOT_INIT);
    expect(x.conn_open(-1)).toBe(Status.NOT_INIT);
    expect(x.conn_close(65536)).toBe(Status.NOT_INIT);
    expect(x.send(65536, 0, 0, 0, 0, 0)).toBe(Status.NOT_INIT);
    expect(x.comment(65536, 0)).toBe(Status.NOT_INIT);
    expect(x.out_ptr(65536)).toBe(Status.NOT_INIT);
    expect(x.out_len(65536)).toBe(Status.NOT_INIT);
    expect(x.out_consume(65536, 0)).toBe(Status.NOT_INIT);
    expect(x.tick(0)).toBe(Status.NOT_INIT);
    expect(x.due_ptr()).toBe(Status.NOT_INIT);
    expect(x.open_count()).toBe(Status.NOT_INIT);
    expect(x.next_deadline()).toBe(Status.NOT_INIT);
    expect(x.conn_state(65536)).toBe(Status.NOT_INIT);
    expect(x.last_id_len(65536)).toBe(Status.NOT_INIT);
    expect(x.last_id_ptr(65536)).toBe(Status.NOT_INIT);
    expect(x.conn_stat(65536, 0)).toBeNaN();
  });

  it("BAD_ARG: an Engine's stagingBytes out of init's range, though the Engine carves more for kept strings", () => {
    for (const stagingBytes of [0, 255, 2 ** 30 + 1]) expect(() => engine({ stagingBytes })).toThrow(EngineMisuseError);
    const e = engine({ maxConnections: 1, outBytes: 64, stagingBytes: 256 });
    const conn = e.open();
    for (let i = 0; i < 3; i++) expect(e.send(conn, { kept: "k" })).toBeGreaterThan(0); // the third names a kept string
    expect(new TextDecoder().decode(e.drain(conn))).toBe('data: {"kept":"k"}\n\n'.repeat(3));
  });

  it("BAD_ARG: out-of-range init, lengths, flags and counts", () => {
    const x = rawInstance();
    const bad: [number, number, number, number][] = [[0, 64, 256, 0], [65536, 64, 256, 0], [1, 15, 256, 0],
      [1, 64, 255, 0], [1, 64, 256, -1], [1, 64, 256, NaN], [1, 64, 256, Infinity], [1, 2 ** 30 + 1, 256, 0]];
    for (const [conns, out, staging, keepAlive] of bad) expect(x.init(conns, out, staging, keepAlive)).toBe(Status.BAD_ARG);
    expect(x.init(2, 64, 256, 0)).toBe(0);
    const c = x.conn_open(-1);
    expect(x.conn_open(-2)).toBe(Status.BAD_ARG);
    expect(x.conn_open(257 + 256)).toBe(Status.BAD_ARG);
    expect(x.send(c, 32, 0, 0, 0, 0)).toBe(Status.BAD_ARG); // unknown flag bit
    expect(x.send(c, 0, 0, 0, -1, 0)).toBe(Status.BAD_ARG);
    expect(x.send(c, 0, 0, 0, 257, 0)).toBe(Status.BAD_ARG);
    expect(x.send(c, 1 | 2, 200, 57, 0, 0)).toBe(Status.BAD_ARG); // event + id past staging
    expect(x.send(c, 1, -5, 0, 3, 0)).toBe(Status.BAD_ARG);
    expect(x.comment(c, -1)).toBe(Status.BAD_ARG);
    expect(x.comment(c, 257)).toBe(Status.BAD_ARG);
    expect(x.out_consume(c, 1)).toBe(Status.BAD_ARG); // nothing pending
    expect(x.out_consume(c, -1)).toBe(Status.BAD_ARG);
    expect(x.tick(-1)).toBe(Status.BAD_ARG);
    expect(x.tick(NaN)).toBe(Status.BAD_ARG);
    expect(x.conn_stat(c, 7)).toBeNaN();
    expect(x.out_len(c)).toBe(0); // and nothing was written by any of it
  });

  it("UNKNOWN_CONN: never opened, closed, or a stale generation of a reused slot", () => {
    const e = engine({ maxConnections: 1 });
    expect(() => e.send(1, "x")).toThrow(EngineMisuseError);
    const c = e.open();
    e.close(c);
    for (const call of [() => e.send(c, "x"), () => e.close(c), () => e.drain(c), () => e.comment(c, "x"), () => e.stats(c)]) {
      expect(call).toThrow(expect.objectContaining({ code: "UNKNOWN_CONN" }));
    }
    const again = e.open(); // same slot, new generation
    expect(again).not.toBe(c);
    expect(() => e.send(c, "x")).toThrow(EngineMisuseError);
    expect(e.send(again, "x")).toBeGreaterThan(0);
    for (const handle of [0, -1, 0x7fffffff, 0x10001, 2 ** 31]) {
      expect(e.isOpen(handle)).toBe(false);
      expect(() => e.close(handle)).toThrow(expect.objectContaining({ code: "UNKNOWN_CONN" }));
    }
  });

  it("CAPACITY: opening past the table, and the slot comes back on close", () => {
    const e = engine({ maxConnections: 2 });
    const a = e.open();
    e.open();
    expect(() => e.open()).toThrow(CapacityError);
    expect(e.openCount).toBe(2);
    e.close(a);
    expect(e.openCount).toBe(1);
    e.open();
  });

  it("ALREADY_INIT: an engine is configured once", () => {
    const x = rawInstance();
    expect(x.init(1, 64, 256, 0)).toBe(0);
    expect(x.init(1, 64, 256, 0)).toBe(Status.ALREADY_INIT);
  });

  it("NO_MEMORY: a configuration beyond the module's memory (the mcu build stops at 2 pages)", () => {
    expect(() => engine({ maxConnections: 4, outBytes: 64 * 1024 }, "sse-mcu")).toThrow(OutOfMemoryError);
    expect(rawInstance().init(65535, 2 ** 30, 256, 0)).toBe(Status.NO_MEMORY);
  });

  it("BAD_TAPE: a malformed JSON tape is refused (the bindings never write one)", () => {
    const x = rawInstance();
    x.init(1, 256, 256, 0);
    const c = x.conn_open(-1);
    const stage = (bytes: number[]) => new Uint8Array(x.memory.buffer).set(bytes, x.staging_ptr());
    const tapes = [
      [], [0x0c], [0x06], [0x07], [0x06, 0x09], [0x08, 0x00, 0x09], [0x08, 0x0a, 0, 0, 0, 0], [0x00, 0x00],
      [0x03, 0, 0, 0], [0x04, 5, 0, 0, 0, 0x61], [0x05, 1, 0, 0, 0, 0x61], [0x0a, 0, 0, 0, 0], [0x08, 0x0a, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0],
    ];
    for (const tape of tapes) {
      stage(tape);
      expect([tape, x.send(c, 8, 0, 0, tape.length, 0)]).toEqual([tape, Status.BAD_TAPE]);
    }
    stage([0x08, 0x0a, 1, 0, 0, 0, 0x6b, 0x06, 0x00, 0x02, 0x07, 0x09]);
    expect(x.send(c, 8, 0, 0, 12, 0)).toBeGreaterThan(0);
    const out = new Uint8Array(x.memory.buffer, x.out_ptr(c), x.out_len(c));
    expect(new TextDecoder().decode(out)).toBe('data: {"k":[null,true]}\n\n');
  });
});

it("the bindings' status table names every ERR_ constant of assembly/abi.ts", async () => {
  const abi = await import("../assembly/abi.js");
  const core = Object.fromEntries(Object.entries(abi).filter(([k]) => k.startsWith("ERR_")).map(([k, v]) => [k.slice(4), v]));
  expect(Status).toEqual(core);
});
