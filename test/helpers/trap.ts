// Real traps for the hosts' fault tests: a live engine's connection rows are
// rewritten through its exported memory, so the next call into it does an out-of-bounds
// access (a genuine WebAssembly.RuntimeError, nothing mocked).
import { expect } from "vitest";
import type { Engine } from "../../bindings/index.js";

// assembly/conn.ts: 320-byte rows from the connection table's base; GEN u16 at 0, NEXT_FREE i32 at 12, INDEX u32 at 20.
export const ROW_BYTES = 320;
const GEN = 0;
export const NEXT_FREE = 12;
const INDEX = 20;

/** Where a connection's row is: the table sits right below the outbound arena (assembly/memory.ts). */
export function rowOf(engine: Engine, conn: number): number {
  const index = conn & 0xffff;
  const pending = engine.pending(conn);
  expect(pending.length).toBe(0); // then the view starts where the connection's space does
  const outArena = pending.byteOffset - index * engine.outBytes;
  const row = outArena - engine.maxConnections * ROW_BYTES + index * ROW_BYTES;
  const view = new DataView(engine.memory.buffer);
  expect(view.getUint16(row + GEN, true)).toBe(conn >>> 16);
  expect(view.getUint32(row + INDEX, true)).toBe(index);
  return row;
}

/** Points the connection's outbound space past the end of memory: its next frame traps. */
export function corruptSlot(engine: Engine, conn: number): void {
  const view = new DataView(engine.memory.buffer);
  view.setUint32(rowOf(engine, conn) + INDEX, Math.ceil(view.byteLength / engine.outBytes) + 1, true);
}
