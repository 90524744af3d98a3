// Generates the conformance vectors in test/vectors/data/ (npx tsx test/vectors/generate.ts).
// Deterministic: a fixed seed, no clock. Each script runs against V8 and the ABI model
// (session.ts); the finished vector is then replayed on fresh release and mcu instances, which
// decides whether the mcu build is meant to run it or to refuse its init with NO_MEMORY.
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
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

/** Bytes init carves for a configuration, from the layout in assembly/memory.ts (static data aside). */
function carved(maxConns: number, outBytes: number, staging: number): number {
  return maxConns * (ROW_BYTES + outBytes + 4) + staging + 256 + 32;
}

/** "no_memory" if one of the vector's configuration calls does not fit the mcu build's two pages. */
function mcuVerdict(v: Vector): Vector["mcu"] {
  const host = v8Host(mcu);
  for (const step of v.steps) {
    if (!("call" in step)) continue;
    const args = step.args.map(decodeNum);
    const r = host.call(step.call, args);
    if (!isConfigStep(step) || r === 0) continue;
    if (r !== NO_MEMORY) throw new Error(`${v.name}: ${step.call} on mcu gave ${r}`);
    if (step.call === "init") {
      // Static data takes a few KiB below the heap: clear fits and clear misfits must go the right way.
      const need = carved(args[0]!, args[1]!, args[2]!);
      if (need < TWO_PAGES - 16384) throw new Error(`${v.name}: ${need} bytes should fit the mcu build`);
    }
    return "no_memory";
  }
  for (const step of v.steps) {
    if (isConfigStep(step) && step.call === "init") {
      const [c, o, st] = step.args.map(decodeNum);
      if (carved(c!, o!, st!) > TWO_PAGES) throw new Error(`${v.name}: init fits two pages but should not`);
    }
  }
  return "replay";
}

const out = join(here, "data");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let total = 0;
const counts: Record<string, number> = {};
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
console.log(`${total} vectors written to ${out}`);
