// The conformance vector format, shared by the generator and every replayer (the Python
// drivers in test/hosts/ mirror it). A vector is a call script at the raw ABI level, so a
// host needs only: call an export with numbers, read and write linear memory.
//
//   { call, args, stage?, expect? }  write `stage` (hex) at staging_ptr(), then call the export;
//                                    expect: the result, or "ptr" (any positive address)
//   { drain, chunks, max?, expect }  copy pending bytes of handle `drain` out in pieces of
//                                    chunks[0], chunks[1], … (cycled): out_len, out_ptr, read,
//                                    out_consume(n) = 0, until nothing is pending (or `max`
//                                    bytes); a piece of 0 is all the rest at once: out_take's
//                                    address, the u32 at taken_ptr() bytes long (all that
//                                    was pending), read. The bytes read must equal `expect` (hex)
//   { read, len, expect }            bytes at the address that export `read` returns, `len`
//                                    long (a number, or an export whose result is the length)
//
// Numbers are JSON numbers; f64 specials are the strings "NaN", "Infinity", "-Infinity".
// A vector whose configuration does not fit the mcu build's two pages says "mcu": "no_memory":
// on that target one of its successful init / history_init / shape_init / wide_init calls must
// return NO_MEMORY instead (those before it succeed), and nothing after it is replayed.

export type Num = number | "NaN" | "Infinity" | "-Infinity";
export type ExportCall = [name: string, args: number[]];

export interface CallStep {
  call: string;
  args: Num[];
  stage?: string;
  expect?: Num | "ptr";
}
export interface DrainStep {
  drain: number;
  chunks: number[];
  max?: number;
  expect: string;
}
export interface ReadStep {
  read: ExportCall;
  len: number | ExportCall;
  expect: string;
}
export type Step = CallStep | DrainStep | ReadStep;

export interface Vector {
  name: string;
  about: string;
  mcu: "replay" | "no_memory";
  steps: Step[];
}

export interface VectorFile {
  format: 1;
  vectors: Vector[];
}

export const NO_MEMORY = -6;

export function encodeNum(x: number): Num {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return x;
}

export function decodeNum(n: Num): number {
  return typeof n === "number" ? n : Number(n);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}
