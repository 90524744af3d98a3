// Memory discipline: everything is carved at init; traffic never grows linear memory.
import { expect, it } from "vitest";
import { engine } from "./support/wasm.js";

it("sends 1,000,000 events through one connection without growing linear memory", () => {
  const e = engine({ maxConnections: 4, outBytes: 16 * 1024 });
  const memory = e.memory;
  const pages = memory.buffer.byteLength;
  const c = e.open("0");
  let framed = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const payload = i % 3 === 0 ? { counter: i, name: "sensor-7", value: 20 + (i % 50) / 2 } : i % 3 === 1 ? `line ${i}\nnext` : [i, null, true];
    framed += e.send(c, payload, i % 10 === 0 ? { event: "sensor", id: String(i) } : undefined);
    if (i % 64 === 63) e.drain(c);
    if (i % 100_000 === 0) e.tick(i);
  }
  e.drain(c);
  expect(e.stats(c)).toMatchObject({ events: 1_000_000, bytesFramed: framed, bytesDrained: framed, pending: 0 });
  expect(memory.buffer.byteLength).toBe(pages);
});

it("opens and closes 200,000 connections without growing memory or losing a slot", () => {
  const e = engine({ maxConnections: 8, outBytes: 256 });
  const pages = e.memory.buffer.byteLength;
  for (let i = 0; i < 200_000; i++) {
    const c = e.open(i % 2 ? String(i) : undefined);
    e.send(c, "x");
    e.close(c);
  }
  expect(e.openCount).toBe(0);
  const all = Array.from({ length: 8 }, () => e.open());
  expect(new Set(all.map((c) => c & 0xffff)).size).toBe(8);
  expect(e.memory.buffer.byteLength).toBe(pages);
});

it("fits the mcu build with 4 connections in two 64 KiB pages", () => {
  const e = engine({ maxConnections: 4, outBytes: 4096, stagingBytes: 4096 }, "sse-mcu");
  expect(e.memory.buffer.byteLength).toBeLessThanOrEqual(2 * 65536);
  const conns = [0, 1, 2, 3].map(() => e.open());
  for (const c of conns) {
    for (let i = 0; i < 100; i++) e.send(c, { counter: i }, { id: String(i) });
    e.drain(c);
  }
  expect(e.memory.buffer.byteLength).toBeLessThanOrEqual(2 * 65536);
});
