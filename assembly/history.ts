// Rules
// - The history is a ring of the most recent recorded frames, each with its id, bounded both
//   in events and in bytes; both bounds are fixed by history_init, which carves it once.
// - Entries are stored whole and contiguous. Oldest entries are evicted to make room, so the
//   history is always a gap-free run of the newest recorded events: a client whose last id is
//   in it can be given every event after that id, and one whose id is not in it can be told so.
// - A frame larger than the whole ring cannot be kept; the history is emptied instead, because
//   keeping the older events would let a client resume across the one that is missing.
import { carveMore } from "./memory";

// Index entry: frame offset in the ring, id length, frame length (u32 each).
const ENTRY = 12;

let index: usize = 0; // maxEvents entries, a circular array
let ring: usize = 0;
let maxEvents: u32 = 0;
let ringBytes: u32 = 0;
let oldest: u32 = 0; // index slot of the oldest entry
let count: u32 = 0;
let writeAt: u32 = 0; // where the next entry goes in the ring

export function enabled(): bool {
  return maxEvents > 0;
}

/** Carves the ring; false if it does not fit. */
export function setup(events: u32, bytes: u32): bool {
  const idx = carveMore(events * ENTRY);
  if (idx == 0) return false;
  const r = carveMore(bytes);
  if (r == 0) return false;
  index = idx;
  ring = r;
  maxEvents = events;
  ringBytes = bytes;
  return true;
}

export function size(): u32 {
  return count;
}

function entry(i: u32): usize {
  return index + <usize>((oldest + i) % maxEvents) * ENTRY;
}

function evictOldest(): void {
  oldest = (oldest + 1) % maxEvents;
  count--;
}

/** Keeps the frame [frame, frame + frameLen) under the id [id, id + idLen). */
export function record(id: usize, idLen: u32, frame: usize, frameLen: u32): void {
  const need = idLen + frameLen;
  if (need > ringBytes) {
    count = 0;
    writeAt = 0;
    return;
  }
  if (count == maxEvents) evictOldest();
  if (writeAt + need > ringBytes) {
    // No room before the end: every entry still past writeAt is older than all the rest.
    while (count > 0 && load<u32>(entry(0)) >= writeAt) evictOldest();
    writeAt = 0;
  }
  while (count > 0) {
    const at = load<u32>(entry(0));
    if (at < writeAt || at >= writeAt + need) break;
    evictOldest();
  }
  const e = entry(count);
  store<u32>(e, writeAt);
  store<u32>(e, idLen, 4);
  store<u32>(e, frameLen, 8);
  memory.copy(ring + writeAt, id, idLen);
  memory.copy(ring + writeAt + idLen, frame, frameLen);
  writeAt += need;
  count++;
}

/** The position (0 = oldest) of the newest entry whose id is [id, id + idLen), or -1. */
export function find(id: usize, idLen: u32): i32 {
  for (let i = <i32>count - 1; i >= 0; i--) {
    const e = entry(i);
    if (load<u32>(e, 4) == idLen && memory.compare(ring + load<u32>(e), id, idLen) == 0) return i;
  }
  return -1;
}

export function framePtr(i: u32): usize {
  const e = entry(i);
  return ring + load<u32>(e) + load<u32>(e, 4);
}

export function frameLen(i: u32): u32 {
  return load<u32>(entry(i), 8);
}
