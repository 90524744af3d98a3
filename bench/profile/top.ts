// Reading a .cpuprofile (node --cpu-prof): self time per function and per layer of the
// stack (core, bindings, host, application, socket writes, Node, GC) within a time window.
import { existsSync, readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: Node[];
  samples: number[];
  /** µs on the monotonic clock (CLOCK_MONOTONIC, as process.hrtime in any process). */
  startTime: number;
  timeDeltas: number[];
}

export interface SelfTime {
  /** Share of the non-idle samples in the window, per function, largest first. */
  functions: [string, number][];
  /** The same per layer. */
  layers: [string, number][];
}

const SOCKET_WRITES = new Set(["writev", "writeBuffer", "writeUtf8String", "writeLatin1String", "writeAsciiString"]);

function layer(f: Node["callFrame"]): string {
  if (f.url.startsWith("wasm://") || f.functionName.startsWith("wasm-function")) return "core (wasm)";
  if (f.functionName.startsWith("js-to-wasm") || f.functionName === "GenericJSToWasmWrapper") return "JS → wasm calls";
  if (f.url.includes("/bindings/")) return "bindings (engine, tape)";
  if (f.url.includes("/host/")) return "host (Node)";
  if (f.url.includes("/bench/")) return "application (bench code)";
  if (f.functionName === "(garbage collector)") return "garbage collector";
  if (SOCKET_WRITES.has(f.functionName)) return "socket writes (syscalls)";
  if (f.url.startsWith("node:")) return "Node streams, http";
  return "other (microtasks, builtins)";
}

/** The core's function names by index, from the text format asc writes next to the release build. */
const WAT = new URL("../../build/sse.wat", import.meta.url);
const coreNames: string[] = existsSync(WAT)
  ? [...readFileSync(WAT, "utf8").matchAll(/^ \(func \$(\S+)/gm)].map((m) => m[1]!.replace(/^assembly\//, ""))
  : [];

function name(f: Node["callFrame"]): string {
  const wasm = /^wasm-function\[(\d+)\]$/.exec(f.functionName);
  if (wasm !== null) return `${coreNames[Number(wasm[1])] ?? f.functionName} (core)`;
  const where = f.url === "" ? "" : ` ${f.url.replace(/^.*\/(bench|host|bindings|node_modules)\//, "$1/")}`;
  return `${f.functionName || "(anonymous)"}${where}`;
}

/** Self time over the samples taken in [fromUs, toUs] (monotonic µs), idle excluded. */
export function selfTime(file: string, fromUs: number, toUs: number): SelfTime {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fns = new Map<string, number>();
  const layers = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    const f = byId.get(profile.samples[i]!)!.callFrame;
    if (f.functionName === "(idle)") continue;
    total++;
    fns.set(name(f), (fns.get(name(f)) ?? 0) + 1);
    layers.set(layer(f), (layers.get(layer(f)) ?? 0) + 1);
  }
  const shares = (m: Map<string, number>): [string, number][] =>
    [...m].map(([k, n]): [string, number] => [k, n / total]).sort((a, b) => b[1] - a[1]);
  return { functions: shares(fns), layers: shares(layers) };
}
