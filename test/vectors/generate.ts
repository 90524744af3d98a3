// Generates the conformance vectors in test/vectors/data/ (npx tsx test/vectors/generate.ts).
// Deterministic: a fixed seed, no clock. Each script runs against V8 and the ABI model
// (session.ts); the finished vector is then replayed on fresh release and mcu instances, which
// decides whether the mcu build is meant to run it or to refuse a configuration call with NO_MEMORY.
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_DEPTH } from "../../assembly/abi.js";
import { Status } from "../../bindings/errors.js";
import { decodeNum, NO_MEMORY, type Vector, type VectorFile } from "./format.js";
import { isConfigStep, replay } from "./replay.js";
import { Session } from "./session.js";
import { categories } from "./scripts.js";
import { v8Host } from "./v8-host.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const release = readFileSync(join(root, "build/sse.wasm"));
const mcu = readFileSync(join(root, "build/sse-mcu.wasm"));
const ROW_BYTES = 320;
const TWO_PAGES = 2 * 65536;

/**
 * Bytes a configuration call carves, from the layout in assembly/memory.ts (init: rows, outbound
 * space, staging, due list, depth stack, scratch) and the later carves (static data and alignment aside).
 */
function carved(call: string, args: number[]): number {
  const [a, b, c] = args as [number, number, number];
  switch (call) {
    case "init": return a * (ROW_BYTES + b + 4) + c + MAX_DEPTH * 8 + 32;
    case "history_init": return a * 12 + b;
    case "shape_init": return a * 4 + b;
    default: return a; // wide_init
  }
}

/** "no_memory" if one of the vector's configuration calls does not fit the mcu build's two pages. */
function mcuVerdict(v: Vector): Vector["mcu"] {
  const host = v8Host(mcu);
  let need = 0;
  for (const step of v.steps) {
    if (!("call" in step)) continue;
    const args = step.args.map(decodeNum);
    const r = host.call(step.call, args);
    if (!isConfigStep(step)) continue;
    need += carved(step.call, args);
    if (r === 0) continue;
    if (r !== NO_MEMORY) throw new Error(`${v.name}: ${step.call} on mcu gave ${r}`);
    // Static data takes a few KiB below the heap: clear fits and clear misfits must go the right way.
    if (need < TWO_PAGES - 16384) throw new Error(`${v.name}: ${need} bytes should fit the mcu build`);
    return "no_memory";
  }
  if (need > TWO_PAGES) throw new Error(`${v.name}: its configuration fits two pages but should not`);
  return "replay";
}

const out = join(here, "data");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let total = 0;
const counts: Record<string, number> = {};
const byName = new Map<string, Vector>();
for (const [category, scripts] of Object.entries(categories())) {
  const vectors: Vector[] = [];
  for (const script of scripts) {
    const s = new Session(`${category}/${script.name}`, script.about, v8Host(release));
    script.run(s);
    const v = s.finish();
    v.mcu = mcuVerdict(v);
    replay(v, v8Host(release), "release");
    replay(v, v8Host(mcu), "mcu");
    vectors.push(v);
    byName.set(v.name, v);
    for (const step of v.steps) if ("call" in step) counts[step.call] = (counts[step.call] ?? 0) + 1;
    for (const step of v.steps) if ("call" in step && typeof step.expect === "number" && step.expect < 0) {
      counts[`status ${step.expect}`] = (counts[`status ${step.expect}`] ?? 0) + 1;
    }
  }
  const file: VectorFile = { format: 1, vectors };
  writeFileSync(join(out, `${category}.json`), JSON.stringify(file) + "\n");
  total += vectors.length;
  console.log(`${category}: ${vectors.length} vectors (${vectors.filter((v) => v.mcu === "no_memory").length} too big for mcu)`);
}
// Every export and every status code must be exercised somewhere.
const exportsOf = new WebAssembly.Module(release);
for (const e of WebAssembly.Module.exports(exportsOf)) {
  if (e.kind === "function" && !counts[e.name]) throw new Error(`no vector calls ${e.name}`);
}
for (const code of Object.values(Status)) {
  if (!counts[`status ${code}`]) throw new Error(`no vector expects status ${code}`);
}
// The wide region changes where a frame is written, never its bytes.
const drained = (name: string): string[] => byName.get(name)!.steps.flatMap((s) => ("drain" in s ? [s.expect] : []));
if (drained("wide/same-bytes/in-wide").join() !== drained("wide/same-bytes/in-own-space").join()) {
  throw new Error("wide/same-bytes: the wide region drains other bytes than a large own space");
}
console.log(`${total} vectors written to ${out}`);
