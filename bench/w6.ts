// W6: one broadcast channel over several server processes. 1,000 subscribers on two server
// processes sharing one Redis stream (wasm-sse's SharedChannel), against the same 1,000 on one
// process (the local Channel), and against a naive node:http fan-out of Redis pub/sub. The
// first server process of each variant publishes, so half of the shared and naive deliveries
// cross from one process to another (all of the shared channel's pass through Redis).
//
// Per variant and run: a paced pass (cfg.w6Rate events/s for cfg.w6Seconds, after an untimed
// paced warm-up) for publish-to-delivery latency, deliveries/s and server CPU per delivery at
// that rate; then a pass as fast as it goes (cfg.w6BurstEvents events, cfg.burst per turn of
// the publisher's event loop). Each event carries the time it was sent (CLOCK_MONOTONIC, one
// clock for every process); the client reads it at receipt. Redis runs for W6 alone.
import { existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "./child.js";
import type { Config } from "./config.js";
import { PROFILE_DIR } from "./profile/case.js";
import { selfTime, type SelfTime } from "./profile/top.js";
import { cpuSeconds } from "./proc.js";
import { median } from "./stats.js";
import { subscribersReach } from "./workloads.js";
import { nowUs } from "./w6/clock.js";
import type { Latency, W6ClientCommand, W6ClientReply, W6ServerCommand, W6ServerReply, W6Variant } from "./w6/protocol.js";
import { W6_VARIANTS } from "./w6/protocol.js";
import { haveRedisServer, startRedis, type RedisServer } from "./w6/redis.js";

type Server = Child<W6ServerCommand, W6ServerReply>;
type Client = Child<W6ClientCommand, W6ClientReply>;

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, "w6", "server.ts");
const CLIENT = path.join(here, "w6", "client.ts");
/** The shared channel's entry (host/redis/): without it W6 runs the other variants. */
const SHARED_ENTRY = path.join(here, "..", "host", "redis", "index.ts");
const CASE_TIMEOUT_MS = 180_000;
/** Server process k's role: the first publishes. */
const ROLE = ["publisher", "other"] as const;

export interface W6Pass {
  events: number;
  /** From the publisher's first event to the client's last delivery. */
  seconds: number;
  deliveries: number;
  /** CPU seconds over the pass: every server process together, redis-server, the client. */
  serverCpu: number;
  /** Each server process's CPU seconds (the publisher's first). */
  processCpu: number[];
  redisCpu: number;
  clientCpu: number;
  /** Redis commands each server process issued during the pass (the publisher's first). */
  commands: number[];
  /** Publish-to-delivery latency (µs): every delivery, and per process (the publisher's first). A repeated pass keeps its first time's percentiles (the deliveries count them all). */
  latency: { all: Latency; processes: Latency[] };
  /** Paced passes: how late the publisher sent its events (µs). */
  lag?: { p50: number; p99: number; max: number };
}

export interface W6Run {
  run: number;
  variant: W6Variant;
  processes: number;
  paced: W6Pass;
  fast: W6Pass;
  /** Streams that skipped, repeated or reordered an event, or deliveries short of events × subscribers. */
  failures: string[];
}

export interface W6Profile {
  /** "publisher" (the process that sends) or "other". */
  process: string;
  /** Which pass the self time covers. */
  pass: "paced" | "fast";
  file: string;
  /** Server CPU per delivery of this process to its own subscribers in the profiled pass, µs. */
  cpuPerDeliveryUs: number;
  self: SelfTime;
}

export interface W6Result {
  subscribers: number;
  rate: number;
  seconds: number;
  burstEvents: number;
  variants: W6Variant[];
  runs: W6Run[];
  /** Why a variant was left out. */
  notes: string[];
  /** Shared-channel server processes under --cpu-prof (when its CPU target was missed and profiles are on). */
  profiles: W6Profile[];
}

type Say = (line: string) => void;

export async function runW6(cfg: Config, say: Say, only: readonly W6Variant[] = W6_VARIANTS): Promise<W6Result | { skipped: string }> {
  if (!haveRedisServer()) return { skipped: "redis-server is not installed (Debian: apt-get install redis-server)" };
  const notes: string[] = [];
  let variants = W6_VARIANTS.filter((v) => only.includes(v));
  if (variants.includes("shared") && !existsSync(SHARED_ENTRY)) {
    variants = variants.filter((v) => v !== "shared");
    notes.push("the shared variant did not run: host/redis/index.ts (SharedChannel) is missing");
  }
  const redis = await startRedis();
  const client: Client = new Child("w6 client", CLIENT);
  const runs: W6Run[] = [];
  try {
    for (let run = 1; run <= cfg.runs; run++) {
      // The variants take turns, each run in another order, so drift on the shared machine lands on all.
      const order = variants.map((_, k) => variants[(k + run - 1) % variants.length]!);
      for (const variant of order) {
        const r = await runVariant(variant, `w6-${run}-${variant}`, redis, client, cfg, () => []);
        runs.push({ run, ...r });
        say(`run ${run}/${cfg.runs} W6 ${describe(r)}`);
        for (const f of r.failures) say(`run ${run}/${cfg.runs} W6 ${variant} VERIFY FAILED: ${f}`);
      }
    }
    const result: W6Result = { subscribers: cfg.w6Subscribers, rate: cfg.w6Rate, seconds: cfg.w6Seconds, burstEvents: cfg.w6BurstEvents, variants, runs, notes, profiles: [] };
    if (cfg.profileMisses && variants.includes("shared") && variants.includes("in-process") && Math.max(w6CpuRatio(result, "paced"), w6CpuRatio(result, "fast")) > W6_CPU_GOAL) {
      say("profiling the shared channel's W6 server processes (--cpu-prof), behind a missed target");
      try {
        result.profiles = await profileShared(redis, client, cfg);
        for (const p of result.profiles) say(`  ${p.process} process, ${p.pass} pass: ${p.cpuPerDeliveryUs.toFixed(3)} µs/delivery; ${p.self.functions.slice(0, 6).map(([k, x]) => `${k} ${(100 * x).toFixed(1)}%`).join(", ")}`);
      } catch (error) {
        say(`profiling W6 failed: ${(error as Error).message}`);
      }
    }
    return result;
  } finally {
    await client.stop();
    await redis.stop();
  }
}

/** The shared channel's CPU per delivery may be at most this many times the in-process channel's. */
export const W6_CPU_GOAL = 1.3;

/** Median over runs of the shared channel's server CPU per delivery ÷ the in-process channel's, run by run. */
export function w6CpuRatio(r: W6Result, pass: "paced" | "fast"): number {
  return median(w6CpuRatios(r, pass));
}

export function w6CpuRatios(r: W6Result, pass: "paced" | "fast"): number[] {
  const per: number[] = [];
  for (const s of r.runs.filter((x) => x.variant === "shared")) {
    const local = r.runs.find((x) => x.variant === "in-process" && x.run === s.run);
    if (local !== undefined) per.push(cpuPerDelivery(s[pass]) / cpuPerDelivery(local[pass]));
  }
  return per;
}

export const cpuPerDelivery = (p: W6Pass): number => (p.serverCpu / p.deliveries) * 1e6;
/** Server process k's CPU per delivery to its own subscribers, µs. */
export const processCpuPerDelivery = (p: W6Pass, k: number): number => (p.processCpu[k]! / p.latency.processes[k]!.deliveries) * 1e6;
/** Mean over the server processes of Redis commands per event. */
export const commandsPerEvent = (p: W6Pass): number => p.commands.reduce((a, b) => a + b, 0) / p.commands.length / p.events;

function describe(r: Omit<W6Run, "run">): string {
  const ms = (us: number): string => (us / 1000).toFixed(2);
  const pass = (p: W6Pass): string =>
    `${Math.round(p.deliveries / p.seconds).toLocaleString("en-US")} del/s, server ${cpuPerDelivery(p).toFixed(3)} µs/delivery${p.processCpu.length > 1 ? ` (${p.processCpu.map((_, k) => processCpuPerDelivery(p, k).toFixed(3)).join(" + ")})` : ""} (redis ${((p.redisCpu / p.deliveries) * 1e6).toFixed(3)}), client ${Math.round((p.clientCpu / p.seconds) * 100)}% CPU, commands/event/process ${p.commands.map((c) => (c / p.events).toFixed(3)).join(" + ")}`;
  const l = r.paced.latency;
  return `${r.variant.padEnd(10)} paced: ${pass(r.paced)}; latency p50 ${ms(l.all.p50)} ms, p99 ${ms(l.all.p99)} ms${l.processes.length > 1 ? ` (other process p99 ${ms(l.processes[1]!.p99)} ms)` : ""}, max ${ms(l.all.max)} ms, publisher lag p99 ${ms(r.paced.lag!.p99)} ms · fast: ${pass(r.fast)}`;
}

/**
 * The client's count, once every stream has the pass's last event. Meanwhile a server's error
 * (or exit) fails the pass at once; at the deadline, the error says where the streams are.
 */
async function countedOrWhy(client: Client, servers: Server[], to: number, timeoutMs: number): Promise<Extract<W6ClientReply, { type: "counted" }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await client.next("counted", 1000);
    } catch (error) {
      if (!/no "counted" within/.test((error as Error).message)) throw error;
    }
    for (const s of servers) {
      try {
        await s.next("error", 0); // an error message or the process's exit throws; else "no error within 0 ms"
      } catch (error) {
        if (!/no "error" within/.test((error as Error).message)) throw error;
      }
    }
    if (Date.now() > deadline) {
      const st = await client.request({ type: "status" }, "status", 10_000);
      const where = st.groups.map((g, k) => `${ROLE[k]}'s ${g.streams} streams at events ${g.lowestNext}..${g.highestNext} (ended by the server: ${g.ended})`).join("; ");
      throw new Error(`W6: the streams did not reach event ${to - 1} within ${timeoutMs} ms: ${where}${st.failures.length > 0 ? `; ${st.failures.slice(0, 5).join("; ")}` : ""}`);
    }
  }
}

/** Monotonic µs of the timed passes, for a profile's windows. */
interface Profiled {
  paced: [number, number];
  fast: [number, number];
}

async function runVariant(variant: W6Variant, key: string, redis: RedisServer, client: Client, cfg: Config, nodeArgs: (k: number) => string[], profiled?: Profiled): Promise<Omit<W6Run, "run">> {
  const processes = variant === "in-process" ? 1 : 2;
  const servers: Server[] = [];
  try {
    for (let k = 0; k < processes; k++) {
      const args = ["--variant", variant, "--redis", redis.url, "--key", key, ...(k === 0 ? ["--publisher"] : [])];
      servers.push(new Child(`w6 ${variant} ${ROLE[k]}`, SERVER, args, nodeArgs(k)));
    }
    const ports = await Promise.all(servers.map(async (s) => (await s.next("listening", 30_000)).port));
    const per = ports.map((_, k) => Math.floor(cfg.w6Subscribers / processes) + (k < cfg.w6Subscribers % processes ? 1 : 0));
    for (const [k, port] of ports.entries()) await client.request({ type: "open", port, conns: per[k]!, group: k }, "opened", CASE_TIMEOUT_MS);
    for (const [k, s] of servers.entries()) await subscribersReach(s, per[k]!);

    const publisher = servers[0]!;
    let next = 0;
    const failures: string[] = [];
    const pass = async (count: number, command: W6ServerCommand): Promise<W6Pass> => {
      const from = next;
      next += count;
      const c0 = await Promise.all(servers.map(async (s) => (await s.request({ type: "commands" }, "commands", 10_000)).commands));
      await client.request({ type: "expect", from, to: from + count }, "expecting", 10_000);
      const cpu0 = servers.map((s) => cpuSeconds(s.pid));
      const redis0 = cpuSeconds(redis.pid);
      const client0 = cpuSeconds(client.pid);
      const t0 = performance.now();
      publisher.send({ ...command, from, count } as W6ServerCommand);
      const counted = await countedOrWhy(client, servers, from + count, CASE_TIMEOUT_MS + count * 10);
      const seconds = (performance.now() - t0) / 1000;
      const processCpu = servers.map((s, k) => cpuSeconds(s.pid) - cpu0[k]!);
      const redisCpu = cpuSeconds(redis.pid) - redis0;
      const clientCpu = cpuSeconds(client.pid) - client0;
      const published = await publisher.next("published", CASE_TIMEOUT_MS);
      const c1 = await Promise.all(servers.map(async (s) => (await s.request({ type: "commands" }, "commands", 10_000)).commands));
      const deliveries = counted.all.deliveries;
      for (const f of counted.failures) if (!failures.includes(f)) failures.push(f);
      const want = count * cfg.w6Subscribers;
      if (deliveries !== want) failures.push(`events ${from}..${from + count - 1}: ${deliveries} deliveries counted, ${want} due`);
      return {
        events: count, seconds, deliveries,
        serverCpu: processCpu.reduce((a, b) => a + b, 0), processCpu, redisCpu, clientCpu,
        commands: c1.map((c, k) => c - c0[k]!),
        latency: { all: counted.all, processes: counted.groups },
        ...(published.lag === undefined ? {} : { lag: published.lag }),
      };
    };
    const paced = (seconds: number): [number, W6ServerCommand] => {
      const count = Math.max(1, Math.round(seconds * cfg.w6Rate));
      return [count, { type: "pace", from: 0, count, rate: cfg.w6Rate }];
    };
    // Untimed: V8 optimises by use, and the first events of every path pay for it.
    await pass(...paced(cfg.w6WarmSeconds));
    const t0 = nowUs();
    const timed = await pass(...paced(cfg.w6Seconds));
    const t1 = nowUs();
    // As W2: the pass repeats (its counts and times adding up) until it spans cfg.minSeconds, so
    // a short busy spell of the machine weighs on a fast variant no more than on a slow one.
    const burst: W6ServerCommand = { type: "burst", from: 0, count: 0, burst: cfg.burst };
    const fast = await pass(cfg.w6BurstEvents, burst);
    while (fast.seconds < cfg.minSeconds) add(fast, await pass(cfg.w6BurstEvents, burst));
    if (profiled !== undefined) Object.assign(profiled, { paced: [t0, t1], fast: [t1, nowUs()] });
    await client.request({ type: "close" }, "closed", CASE_TIMEOUT_MS);
    if (profiled !== undefined) for (const s of servers) await s.exit(); // --cpu-prof writes its profile as the process exits
    return { variant, processes, paced: timed, fast, failures };
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** Adds a repeat of a pass to it: counts, times and commands; the latency stays the first's. */
function add(p: W6Pass, more: W6Pass): void {
  p.events += more.events;
  p.seconds += more.seconds;
  p.deliveries += more.deliveries;
  p.serverCpu += more.serverCpu;
  p.redisCpu += more.redisCpu;
  p.clientCpu += more.clientCpu;
  p.processCpu = p.processCpu.map((c, k) => c + more.processCpu[k]!);
  p.commands = p.commands.map((c, k) => c + more.commands[k]!);
  for (const [k, l] of more.latency.processes.entries()) p.latency.processes[k]!.deliveries += l.deliveries;
  p.latency.all.deliveries += more.latency.all.deliveries;
}

/** The shared variant once more, both server processes under --cpu-prof; self time over the paced pass. */
async function profileShared(redis: RedisServer, client: Client, cfg: Config): Promise<W6Profile[]> {
  const dir = path.join(PROFILE_DIR, "shared-w6");
  rmSync(dir, { recursive: true, force: true });
  const profiled: Profiled = { paced: [0, 0], fast: [0, 0] };
  // A directory per process: tsx's loader thread writes a profile of its own (thread id 1).
  const nodeArgs = (k: number): string[] => ["--cpu-prof", `--cpu-prof-dir=${path.join(dir, ROLE[k]!)}`];
  const r = await runVariant("shared", "w6-profile", redis, client, cfg, nodeArgs, profiled);
  return ROLE.slice(0, r.processes).flatMap((role, k) => {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: the main thread's has thread id 0.
    const main = readdirSync(path.join(dir, role)).find((f) => f.endsWith(".cpuprofile") && f.split(".")[4] === "0");
    if (main === undefined) throw new Error(`no main-thread profile in ${path.join(dir, role)}`);
    const file = path.join(dir, role, main);
    return (["paced", "fast"] as const).map((pass) => ({
      process: role, pass, file,
      cpuPerDeliveryUs: processCpuPerDelivery(r[pass], k),
      self: selfTime(file, ...profiled[pass]),
    }));
  });
}
