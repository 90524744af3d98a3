// Rules
// - A shape is an object's ordered key list, defined once by the host and rendered here once
//   as `"key":` runs; a tape object that names its shape then carries only its values, so
//   neither side touches the keys again. The table is carved once by shape_init.
// - Shapes are never redefined or removed: an id, once given, means the same keys for the
//   engine's life. When the table is full, hosts fall back to spelled-out objects.
import { carveMore } from "./memory";

let table: usize = 0; // maxShapes u32 offsets into area
let area: usize = 0;
let maxShapes: u32 = 0;
let areaBytes: u32 = 0;
let defined: u32 = 0;
let used: u32 = 0;

export function enabled(): bool {
  return maxShapes > 0;
}

export function setup(shapes: u32, bytes: u32): bool {
  const t = carveMore(shapes << 2);
  if (t == 0) return false;
  const a = carveMore(bytes);
  if (a == 0) return false;
  table = t;
  area = a;
  maxShapes = shapes;
  areaBytes = bytes;
  return true;
}

/** Where a new shape's entry would start, and where the area ends (for out.begin). */
export function freeStart(): usize {
  return area + used;
}
export function freeEnd(): usize {
  return area + areaBytes;
}
export function full(): bool {
  return defined == maxShapes;
}

/** Commits the entry written at freeStart() (n bytes); returns its id. */
export function commit(n: u32): i32 {
  store<u32>(table + (<usize>defined << 2), used);
  used += n;
  return defined++;
}

/** The entry of shape `id` ([u32 members][per member: u32 length, `"key":` bytes]), or 0. */
export function entry(id: u32): usize {
  return id < defined ? area + load<u32>(table + (<usize>id << 2)) : 0;
}
