// Replays a conformance vector against raw exports (format: format.ts). The Python drivers
// in test/hosts/ (vectors.py) implement the same loop for wasmtime and wasm3.
import { decodeNum, fromHex, NO_MEMORY, toHex, type CallStep, type Step, type Vector } from "./format.js";

/** What a host must offer: call an export with numbers, read and write linear memory. */
export interface RawHost {
  call(name: string, args: number[]): number;
  read(ptr: number, len: number): Uint8Array;
  write(ptr: number, bytes: Uint8Array): void;
}

export type Target = "release" | "mcu";

const CONFIG_CALLS = ["init", "history_init", "shape_init", "wide_init"];

/** Replays every step the target is meant to run; throws on the first difference. */
export function replay(vector: Vector, host: RawHost, target: Target): void {
  for (const [i, step] of vector.steps.entries()) {
    const where = `${vector.name} step ${i}`;
    if (target === "mcu" && vector.mcu === "no_memory" && isConfigStep(step)) {
      // This configuration is not meant for two pages: the mcu build must refuse it, and stop here.
      const r = host.call(step.call, step.args.map(decodeNum));
      if (r === 0) continue;
      if (r !== NO_MEMORY) throw new Error(`${where}: ${step.call} on mcu returned ${r}, expected 0 or NO_MEMORY`);
      return;
    }
    runStep(step, host, where);
  }
  if (target === "mcu" && vector.mcu === "no_memory") throw new Error(`${vector.name}: the mcu build never said NO_MEMORY`);
}

/** A successful init, history_init, shape_init or wide_init: the calls that carve memory. */
export function isConfigStep(step: Step): step is CallStep {
  return "call" in step && CONFIG_CALLS.includes(step.call) && step.expect === 0;
}

function runStep(step: Step, host: RawHost, where: string): void {
  if ("call" in step) {
    if (step.stage !== undefined) host.write(host.call("staging_ptr", []), fromHex(step.stage));
    const r = host.call(step.call, step.args.map(decodeNum));
    if (step.expect === undefined) return;
    if (step.expect === "ptr") {
      if (!(r > 0)) throw new Error(`${where}: ${step.call} returned ${r}, expected an address`);
    } else if (!Object.is(r, decodeNum(step.expect))) {
      throw new Error(`${where}: ${step.call}(${step.args.join(", ")}) returned ${r}, expected ${step.expect}`);
    }
  } else if ("drain" in step) {
    const got = drain(host, step.drain, step.chunks, step.max ?? Infinity, where);
    if (got !== step.expect) throw new Error(`${where}: drained ${got}, expected ${step.expect}`);
  } else {
    const ptr = host.call(step.read[0], step.read[1]);
    const len = typeof step.len === "number" ? step.len : host.call(step.len[0], step.len[1]);
    const got = toHex(host.read(ptr, len));
    if (got !== step.expect) throw new Error(`${where}: read ${got}, expected ${step.expect}`);
  }
}

/** Copies pending bytes out in the given piece sizes, consuming each piece; returns them as hex. */
export function drain(host: RawHost, conn: number, chunks: number[], max: number, where: string): string {
  let hex = "";
  let total = 0;
  for (let i = 0; total < max; i++) {
    const pending = host.call("out_len", [conn]);
    if (pending < 0) throw new Error(`${where}: out_len returned ${pending}`);
    if (pending === 0) break;
    if (chunks[i % chunks.length] === 0) {
      const ptr = host.call("out_take", [conn]);
      const taken = host.read(host.call("taken_ptr", []), 4);
      const n = taken[0]! | (taken[1]! << 8) | (taken[2]! << 16) | (taken[3]! << 24);
      if (ptr <= 0 || n !== pending) throw new Error(`${where}: out_take returned ${ptr}, ${n} bytes of ${pending}`);
      hex += toHex(host.read(ptr, n));
      total += n;
      continue;
    }
    const n = Math.min(chunks[i % chunks.length]!, pending, max - total);
    const ptr = host.call("out_ptr", [conn]);
    hex += toHex(host.read(ptr, n));
    const r = host.call("out_consume", [conn, n]);
    if (r !== 0) throw new Error(`${where}: out_consume(${n}) returned ${r}`);
    total += n;
  }
  return hex;
}
