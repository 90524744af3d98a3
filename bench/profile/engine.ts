// Profiles W4's engine path (engine-loop.ts) like a socket case: under --cpu-prof, then counted.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "../child.js";
import type { Config } from "../config.js";
import { type CaseProfile, COUNTER, PROFILE_DIR } from "./case.js";
import { selfTime } from "./top.js";

type Reply =
  | { type: "warm" }
  | { type: "done"; fromUs: number; toUs: number; units: number; cpuPerUnitUs: number }
  | { type: "calls"; counts: Record<string, number> };

const LOOP = path.join(path.dirname(fileURLToPath(import.meta.url)), "engine-loop.ts");

async function once(cfg: Config, nodeArgs: string[]): Promise<{ child: Child<{ type: string }, Reply>; done: Extract<Reply, { type: "done" }> }> {
  const child = new Child<{ type: string }, Reply>("engine-loop", LOOP, ["--events", String(cfg.w4Events), "--rounds", String(cfg.w4Rounds)], nodeArgs);
  await child.next("warm", 120_000);
  const done = await child.request({ type: "go" }, "done", 300_000);
  return { child, done };
}

export async function profileEngine(cfg: Config): Promise<CaseProfile> {
  const dir = path.join(PROFILE_DIR, "engine-w4");
  rmSync(dir, { recursive: true, force: true });
  const timed = await once(cfg, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  await timed.child.exit();
  const counted = await once(cfg, ["--import", COUNTER]);
  const { counts } = (await counted.child.request({ type: "calls" }, "calls", 10_000)) as { counts: Record<string, number> };
  await counted.child.stop();
  const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))!);
  const units = counted.done.units;
  return {
    peer: "engine", workload: "w4", unit: "event", units: timed.done.units, cpuPerUnitUs: timed.done.cpuPerUnitUs,
    // The counts include the warm-up pass: one more pass of the same events.
    calls: Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => [k, n / (units + cfg.w4Events)])),
    file, ...selfTime(file, timed.done.fromUs, timed.done.toUs),
  };
}
