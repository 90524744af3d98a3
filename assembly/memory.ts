// Rules
// - All memory is carved once, by init, from the end of static data upward; nothing is
//   allocated afterwards, so linear memory is a function of configuration, never of traffic.
// - Regions never overlap. Staging belongs to the host between calls: the host writes a
//   payload there and the next call reads it. Nothing the core writes lands in staging.
// - The later carves are the optional history ring (history_init), shape table (shape_init)
//   and wide region (wide_init), also configuration: each happens once and never again.
// - Every other region belongs to the core; the host only reads the outbound bytes that
//   out_ptr/out_len name, and only until its next call into the core.
import { MAX_DEPTH } from "./abi";

/** The tape reader's stack: MAX_DEPTH levels of eight bytes. */
const LEVEL_BYTES: u64 = 8;
/** Scratch for one formatted number. */
const SCRATCH_BYTES: usize = 32;

export let connTable: usize = 0;
export let outArena: usize = 0;
export let staging: usize = 0;
export let dueList: usize = 0;
export let depthStack: usize = 0;
export let scratch: usize = 0;

export let maxConns: i32 = 0;
export let outCap: u32 = 0;
/** The wide region (wide_init): 0 bytes without one. */
export let wideArena: usize = 0;
export let wideCap: u32 = 0;
export let stagingCap: u32 = 0;
export let ready = false;
/** The first byte past everything carved so far. */
let carvedEnd: u64 = 0;

function align16(p: u64): u64 {
  return (p + 15) & ~(<u64>15);
}

/**
 * Carves every region for `conns` connection rows of `rowBytes` each;
 * false if the configuration does not fit the memory the module may have.
 */
export function carve(conns: i32, rowBytes: u32, outBytes: u32, stagingBytes: u32): bool {
  // Callers bound each size below 2^31, so these u64 sums cannot wrap.
  const table = align16(<u64>__heap_base);
  const out = align16(table + <u64>conns * rowBytes);
  const stage = align16(out + <u64>conns * outBytes);
  const due = align16(stage + stagingBytes);
  const stack = due + <u64>conns * 4;
  const scr = stack + <u64>MAX_DEPTH * LEVEL_BYTES;
  const end = scr + SCRATCH_BYTES;
  if (!reach(end)) return false;
  connTable = <usize>table;
  outArena = <usize>out;
  staging = <usize>stage;
  dueList = <usize>due;
  depthStack = <usize>stack;
  scratch = <usize>scr;
  maxConns = conns;
  outCap = outBytes;
  stagingCap = stagingBytes;
  ready = true;
  return true;
}

/** Carves `bytes` more after everything else; 0 if they do not fit. */
export function carveMore(bytes: u32): usize {
  const start = align16(carvedEnd);
  return reach(start + bytes) ? <usize>start : 0;
}

/** Carves the wide region (see conn.ts); false if it does not fit. */
export function carveWide(bytes: u32): bool {
  const start = carveMore(bytes);
  if (start == 0) return false;
  wideArena = start;
  wideCap = bytes;
  return true;
}

/** Grows memory to hold [0, end); false if the module may not have that much. */
function reach(end: u64): bool {
  // Addresses stay below 2^31 so every pointer the ABI returns is a positive i32.
  if (end > 0x7FFF_0000) return false;
  const have = <u64>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xFFFF) >> 16);
    if (memory.grow(pages) < 0) return false;
  }
  carvedEnd = end;
  return true;
}
