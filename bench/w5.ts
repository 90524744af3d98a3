// W5: the same framing loop (one send + out_consume per event, on the same staged bytes) under
// wasm3 and under V8. The loop, its cases and its V8 side belong to the wasm3 bench
// (bench/wasm3-vs-v8.py, bench/wasm3-v8-side.ts, bench/wasm3-cases.json); this file calls them
// and keeps the numbers, so W5 lands in the same results as everything else.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Config } from "./config.js";

export interface W5Row {
  build: string;
  event: string;
  /** Events per second under pywasm3, Python's call overhead included. */
  wasm3: number;
  /** The same with the cost of two empty Python → wasm3 calls per event taken out. */
  wasm3Interpreter: number;
  v8: number;
}

export interface W5Result {
  /** Python → wasm3 empty calls per second. */
  emptyCallsPerSecond: number;
  rows: W5Row[];
}

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(here, "wasm3-vs-v8.py");
const V8_SIDE = path.join(here, "wasm3-v8-side.ts");
const CASES = path.join(here, "wasm3-cases.json");
const VENV_PYTHON = path.join(here, "../.venv/bin/python");

/** Loads the wasm3 bench as a module and prints its measurements as one JSON object. */
const PYTHON = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("wasm3_bench", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
seconds = float(sys.argv[2])
print(json.dumps({
  "empty": m.wasm3_empty_calls(seconds),
  "rates": {t: {c["name"]: m.wasm3_rate(t, c, seconds) for c in m.CASES} for t in sys.argv[3:]},
}))
`;

export async function runW5(cfg: Config): Promise<W5Result | { skipped: string }> {
  for (const f of [SCRIPT, V8_SIDE, CASES]) if (!existsSync(f)) return { skipped: `${path.relative(here, f)} is missing` };
  const seconds = cfg.mode === "quick" ? 0.2 : 1;
  // The microcontroller build is what wasm3 is for; --quick keeps to the release build.
  const builds = cfg.mode === "quick" ? ["release"] : ["mcu", "release"];
  let wasm3: { empty: number; rates: Record<string, Record<string, number>> };
  try {
    // npm test's setup puts pywasm3 in .venv/ (test/setup.mjs); a python3 of the machine's may have it too.
    const python = existsSync(VENV_PYTHON) ? VENV_PYTHON : "python3";
    const { stdout } = await run(python, ["-c", PYTHON, SCRIPT, String(seconds), ...builds], { timeout: 120_000 });
    wasm3 = JSON.parse(stdout);
  } catch (error) {
    return { skipped: `the wasm3 side failed: ${(error as Error).message.split("\n")[0]}` };
  }
  const rows: W5Row[] = [];
  for (const build of builds) {
    const { stdout } = await run(process.execPath, ["--import", "tsx", V8_SIDE, build], { timeout: 120_000 });
    const v8 = new Map(stdout.trim().split("\n").map((l) => JSON.parse(l) as { case: string; eventsPerSecond: number }).map((r) => [r.case, r.eventsPerSecond]));
    for (const { name } of JSON.parse(readFileSync(CASES, "utf8")) as { name: string }[]) {
      const w3 = wasm3.rates[build]![name]!;
      rows.push({ build, event: name, wasm3: w3, wasm3Interpreter: 1 / (1 / w3 - 2 / wasm3.empty), v8: v8.get(name)! });
    }
  }
  return { emptyCallsPerSecond: wasm3.empty, rows };
}
