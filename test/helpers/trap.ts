// Real traps for the hosts' fault tests: a live core instance's connection records are
// rewritten through its exported memory, so the next call into it does an out-of-bounds
// access (a genuine WebAssembly.RuntimeError, nothing mocked).
import { expect } from "vitest";
import type { Engine } from "../../bindings/index.js";

// assembly/conn.ts: 320-byte records from the connection table's base; GEN u16 at 0, NEXT_FREE i32 at 12, SLOT u32 at 20.
export const RECORD_BYTES = 320;
const GEN = 0;
export const NEXT_FREE = 12;
const SLOT = 20;

/** Where a connection's record is: the table sits right below the outbound arena (assembly/memory.ts). */
export function recordOf(engine: Engine, conn: number): number {
  const x = engine.exports;
  const slot = conn & 0xffff;
  expect(x.out_len(conn)).toBe(0); // then out_ptr is the start of the connection's space
  const outArena = x.out_ptr(conn) - slot * engine.outBytes;
  const record = outArena - engine.maxConnections * RECORD_BYTES + slot * RECORD_BYTES;
  const view = new DataView(x.memory.buffer);
  expect(view.getUint16(record + GEN, true)).toBe(conn >>> 16);
  expect(view.getUint32(record + SLOT, true)).toBe(slot);
  return record;
}

/** Points the connection's outbound space past the end of memory: its next frame traps. */
export function corruptSlot(engine: Engine, conn: number): void {
  const view = new DataView(engine.exports.memory.buffer);
  view.setUint32(recordOf(engine, conn) + SLOT, Math.ceil(view.byteLength / engine.outBytes) + 1, true);
}
