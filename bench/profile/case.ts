// Profiles one socket workload against one peer, twice: under node --cpu-prof (self time in
// the workload's window), then with every wasm export and response write counted.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "../child.js";
import type { Config } from "../config.js";
import { cpuSeconds } from "../proc.js";
import type { PeerCommand, PeerReply } from "../protocol.js";
import { type PeerName, startClient } from "../workloads.js";
import { selfTime, type SelfTime } from "./top.js";

export type ProfiledWorkload = "w1" | "w2" | "w3";

export interface CaseProfile extends SelfTime {
  peer: string;
  workload: ProfiledWorkload | "w4";
  unit: string;
  units: number;
  /** Server CPU per unit in this (profiled) run, µs. */
  cpuPerUnitUs: number;
  /** Calls per unit: each wasm export, and "(res.write)" / "(res.write bytes)". */
  calls: Record<string, number>;
  file: string;
}

type Command = PeerCommand | { type: "calls" };
type Reply = PeerReply | { type: "calls"; counts: Record<string, number> };

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROFILE_DIR = path.join(here, "..", "results", "profiles");
export const COUNTER = path.join(here, "count-calls.ts");
const UNITS = { w1: "event", w2: "delivery", w3: "connection" } as const;
const PLURAL: Record<string, string> = { event: "events", delivery: "deliveries", connection: "connections" };

export function plural(unit: string): string {
  return PLURAL[unit] ?? `${unit}s`;
}

export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export async function profileCase(peer: PeerName, workload: ProfiledWorkload, cfg: Config): Promise<CaseProfile> {
  const dir = path.join(PROFILE_DIR, `${peer}-${workload}`);
  rmSync(dir, { recursive: true, force: true });
  const timed = await once(peer, workload, cfg, ["--cpu-prof", `--cpu-prof-dir=${dir}`], false);
  await timed.server.exit(); // --cpu-prof writes the profile as the process exits
  const counted = await once(peer, workload, cfg, ["--import", COUNTER], true);
  const { counts } = (await counted.server.request({ type: "calls" }, "calls", 10_000)) as { counts: Record<string, number> };
  await counted.server.stop();
  const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith(".cpuprofile"))!);
  const calls = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => [k, n / counted.units]));
  return { peer, workload, unit: UNITS[workload], units: timed.units, cpuPerUnitUs: timed.cpuPerUnitUs, calls, file, ...selfTime(file, timed.fromUs, timed.toUs) };
}

interface Run {
  server: Child<Command, Reply>;
  units: number;
  cpuPerUnitUs: number;
  fromUs: number;
  toUs: number;
}

async function once(peer: PeerName, workload: ProfiledWorkload, cfg: Config, nodeArgs: string[], counting: boolean): Promise<Run> {
  const file = path.join(here, "..", "peers", `${peer}.ts`);
  const server = new Child<Command, Reply>(peer, file, ["--events", String(cfg.w1Events)], nodeArgs);
  const { port } = (await server.next("listening", 30_000)) as { port: number };
  const client = startClient();
  try {
    await client.request({ type: "stream", port, n: cfg.warmEvents, verify: false }, "streamed", 60_000);
    if (counting) await server.request({ type: "calls" }, "calls", 10_000); // zeroes the counts
    let units: number;
    let cpu0 = cpuSeconds(server.pid);
    let fromUs = monotonicUs();
    if (workload === "w1") {
      units = (await client.request({ type: "stream", port, n: cfg.w1Events, verify: false }, "streamed", 120_000)).events;
    } else if (workload === "w3") {
      units = cfg.w3Connections;
      await client.request({ type: "open", port, conns: units, n: 0, verifyFirst: false }, "opened", 120_000);
      await subscribersReach(server, units);
    } else {
      await client.request({ type: "open", port, conns: cfg.w2Subscribers, n: cfg.w2Events, verifyFirst: false }, "opened", 60_000);
      await subscribersReach(server, cfg.w2Subscribers);
      // The window starts once every subscriber is connected: W2 measures the broadcast.
      cpu0 = cpuSeconds(server.pid);
      fromUs = monotonicUs();
      server.send({ type: "broadcast", n: cfg.w2Events, burst: cfg.burst });
      units = (await client.next("counted", 120_000)).events;
    }
    const toUs = monotonicUs();
    return { server, units, cpuPerUnitUs: ((cpuSeconds(server.pid) - cpu0) / units) * 1e6, fromUs, toUs };
  } finally {
    await client.stop();
  }
}

async function subscribersReach(server: Child<Command, Reply>, n: number): Promise<void> {
  while (((await server.request({ type: "subscribers" }, "subscribers", 5000)) as { count: number }).count < n) {
    await new Promise((r) => setTimeout(r, 20));
  }
}
