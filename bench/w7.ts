// W7 (issue #14): a reconnect storm. cfg.w7Clients subscribers each get 10 events; the server
// cuts every connection at once and sends 20 events while nobody is connected; every client
// reconnects within a second with its Last-Event-ID; once all are back, one live event.
// wasm-sse replays the 20 missed events from its channel's history; better-sse and the naive
// node:http server keep none and reconnect the client plainly (it gets the live event only).
//
// Per peer and run, a fresh server process (w7/server.ts) and the one client process
// (w7/client.ts). Measured: the time from the cut until every client has its missed events and
// the live one, and per client from its reconnect until it caught up; server CPU from the cut to
// that moment, per client, in two parts (the cut with the events sent to nobody; the reconnects,
// replays and the live event); the server's RSS before the cut and its peak during the storm;
// connections the kernel dropped at a full listen queue; and how many reconnects were refused
// (503), got another status, failed to connect or timed out.
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "./child.js";
import type { Config } from "./config.js";
import { requireOpenFiles } from "./limits.js";
import { cpuSeconds, listenOverflows, type PeakSource, rssBytes, watchPeakRss } from "./proc.js";
import { PROFILE_DIR } from "./profile/case.js";
import { selfTime, type SelfTime } from "./profile/top.js";
import { median } from "./stats.js";
import { nowUs } from "./w6/clock.js";
import { REPLAYS, type CaughtUp, type Settled, type W7ClientCommand, type W7ClientReply, type W7Peer, type W7ServerCommand, type W7ServerReply } from "./w7/protocol.js";
import { subscribersReach } from "./workloads.js";

type Server = Child<W7ServerCommand, W7ServerReply>;
type Client = Child<W7ClientCommand, W7ClientReply>;

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.join(here, "w7", "server.ts");
const CLIENT = path.join(here, "w7", "client.ts");

/** Events every client gets before the cut, events sent while nobody is connected, and the live one's id after them. */
export const W7_BEFORE = 10;
export const W7_MISSED = 20;
const LIVE_ID = W7_BEFORE + W7_MISSED + 1;
/** Each client reconnects at a uniformly random moment within this many ms of the cut. */
export const W7_SPREAD_MS = 1000;
/** A reconnect without its response head, or a client without the live event, this long after it was due has timed out. */
export const W7_DEADLINE_MS = 30_000;
/** Anything else the runner waits for. */
const STEP_TIMEOUT_MS = 120_000;
/** wasm-sse's server CPU per reconnect (with its replay) may be at most this many times naive's (a plain reconnect). */
export const W7_CPU_GOAL = 1.5;

export interface W7Run {
  run: number;
  peer: W7Peer;
  clients: number;
  /** The peer replays what a client missed; false: a plain reconnect. */
  replay: boolean;
  /** From the cut until the last client got the live event. */
  seconds: number;
  /** Server CPU seconds: the cut and the missed events sent to nobody; then the reconnects, replays and the live event. */
  cutCpu: number;
  reconnectCpu: number;
  /** Client CPU seconds over the same time. */
  clientCpu: number;
  /** Server RSS just before the cut and its peak from the cut to the end, in bytes. */
  rssBefore: number;
  peakRss: number;
  peakSource: PeakSource;
  settled: Settled;
  /** Connections dropped at a full listen queue during the storm, machine-wide (the clients retry them a second later, then three, …). */
  listenOverflows: number;
  caughtUp: CaughtUp;
  /** Reconnected clients without the live event at the deadline. */
  missing: number;
  /** Reconnected streams the server ended. */
  dropped: number;
  /** Events out of order, repeated, missing or with the wrong data (client-side checks). */
  failures: string[];
}

export interface W7Profile {
  peer: W7Peer;
  file: string;
  /** Server CPU per reconnect in the profiled storm, µs. */
  cpuPerReconnectUs: number;
  /** Self time from the cut to the last client's live event. */
  self: SelfTime;
}

export interface W7Result {
  clients: number;
  peers: W7Peer[];
  runs: W7Run[];
  /** wasm-sse's and naive's servers under --cpu-prof, when the CPU target was missed and profiles are on. */
  profiles: W7Profile[];
}

type Say = (line: string) => void;

export async function runW7(cfg: Config, say: Say, peers: readonly W7Peer[]): Promise<W7Result> {
  requireOpenFiles(cfg.w7Clients, `W7 (${cfg.w7Clients} clients)`);
  const client: Client = new Child("w7 client", CLIENT);
  const runs: W7Run[] = [];
  try {
    for (let run = 1; run <= cfg.runs; run++) {
      // The peers take turns, each run in another order, so drift on the shared machine lands on all.
      const order = peers.map((_, k) => peers[(k + run - 1) % peers.length]!);
      for (const peer of order) {
        const r = { run, ...(await storm(peer, client, cfg.w7Clients)).measured };
        runs.push(r);
        say(`run ${run}/${cfg.runs} W7 ${describe(r)}`);
        for (const f of r.failures) say(`run ${run}/${cfg.runs} W7 ${peer} VERIFY FAILED: ${f}`);
      }
    }
    const result: W7Result = { clients: cfg.w7Clients, peers: [...peers], runs, profiles: [] };
    if (cfg.profileMisses && peers.includes("wasm-sse") && peers.includes("naive") && w7CpuRatio(result) > W7_CPU_GOAL) {
      say("profiling W7's wasm-sse and naive servers (--cpu-prof), behind a missed target");
      try {
        for (const peer of ["wasm-sse", "naive"] as const) {
          const p = await profile(peer, client, cfg.w7Clients);
          result.profiles.push(p);
          say(`  ${peer}: ${p.cpuPerReconnectUs.toFixed(1)} µs/reconnect; ${p.self.functions.slice(0, 6).map(([k, x]) => `${k} ${(100 * x).toFixed(1)}%`).join(", ")}`);
        }
      } catch (error) {
        say(`profiling W7 failed: ${(error as Error).message}`);
      }
    }
    return result;
  } finally {
    await client.stop();
  }
}

/** One more storm with the server under --cpu-prof; self time from the cut to the end. */
async function profile(peer: W7Peer, client: Client, clients: number): Promise<W7Profile> {
  const dir = path.join(PROFILE_DIR, `${peer}-w7`);
  rmSync(dir, { recursive: true, force: true });
  const { measured, window } = await storm(peer, client, clients, dir);
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: the main thread's has thread id 0 (tsx's loader thread writes one too).
  const main = readdirSync(dir).find((f) => f.endsWith(".cpuprofile") && f.split(".")[4] === "0");
  if (main === undefined) throw new Error(`no main-thread profile in ${dir}`);
  const file = path.join(dir, main);
  return { peer, file, cpuPerReconnectUs: cpuPerReconnect(measured), self: selfTime(file, ...window) };
}

/** Server CPU per client over the whole storm, µs. */
export const cpuPerReconnect = (r: Omit<W7Run, "run">): number => ((r.cutCpu + r.reconnectCpu) / r.clients) * 1e6;

/** wasm-sse's CPU per reconnect ÷ naive's, run by run. */
export function w7CpuRatios(w7: W7Result): number[] {
  const per: number[] = [];
  for (const ours of w7.runs.filter((r) => r.peer === "wasm-sse")) {
    const theirs = w7.runs.find((r) => r.peer === "naive" && r.run === ours.run);
    if (theirs !== undefined) per.push(cpuPerReconnect(ours) / cpuPerReconnect(theirs));
  }
  return per;
}

export const w7CpuRatio = (w7: W7Result): number => median(w7CpuRatios(w7));

function describe(r: W7Run): string {
  const s = r.settled;
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  return `${r.peer.padEnd(10)} ${r.replay ? "replay" : "plain "}: every client done ${r.seconds.toFixed(2)} s after the cut; server ${cpuPerReconnect(r).toFixed(1)} µs/reconnect (cut ${((r.cutCpu / r.clients) * 1e6).toFixed(1)}), client ${Math.round((r.clientCpu / r.seconds) * 100)}% CPU; caught up p50 ${r.caughtUp.p50.toFixed(1)} ms, p99 ${r.caughtUp.p99.toFixed(1)} ms; RSS ${mib(r.rssBefore)} MiB, peak ${mib(r.peakRss)} MiB (${r.peakSource}); listen-queue drops ${r.listenOverflows}; 503 ${s.refused}, other ${s.otherStatus}, connect errors ${s.connectErrors}, timed out ${s.pending + r.missing}, dropped ${r.dropped}`;
}

/** One storm on a fresh server (under --cpu-prof into `profileDir` if given); `window` is its span on CLOCK_MONOTONIC, µs. */
async function storm(peer: W7Peer, client: Client, clients: number, profileDir?: string): Promise<{ measured: Omit<W7Run, "run">; window: [number, number] }> {
  const nodeArgs = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  const server: Server = new Child(`w7 ${peer}`, SERVER, ["--peer", peer], nodeArgs);
  try {
    const { port } = await server.next("listening", 30_000);
    await client.request({ type: "open", port, clients }, "opened", STEP_TIMEOUT_MS);
    await subscribersReach(server, clients);
    const before = await deliver(server, client, 1, W7_BEFORE);
    if (before.missing > 0 || before.failures.length > 0) {
      throw new Error(`W7 ${peer}: before the cut, ${before.missing} clients lacked event ${W7_BEFORE}; ${before.failures.join("; ")}`);
    }

    const rssBefore = rssBytes(server.pid);
    const peak = watchPeakRss(server.pid);
    const overflows0 = listenOverflows();
    const cpu0 = cpuSeconds(server.pid);
    const client0 = cpuSeconds(client.pid);
    const t0 = nowUs();
    const cut = await server.request({ type: "cut" }, "cut", STEP_TIMEOUT_MS);
    if (cut.connections !== clients) throw new Error(`W7 ${peer}: the cut closed ${cut.connections} connections, want ${clients}`);
    await server.request({ type: "send", from: W7_BEFORE + 1, to: W7_BEFORE + W7_MISSED }, "sent", STEP_TIMEOUT_MS);
    const cpu1 = cpuSeconds(server.pid);

    const replay = REPLAYS[peer];
    const reconnect: W7ClientCommand = { type: "reconnect", spreadMs: W7_SPREAD_MS, deadlineMs: W7_DEADLINE_MS, resumeAt: replay ? W7_BEFORE + 1 : LIVE_ID, liveId: LIVE_ID };
    const { settled } = await client.request(reconnect, "settled", W7_DEADLINE_MS + STEP_TIMEOUT_MS);
    await subscribersReach(server, settled.ok);
    const live = await deliver(server, client, LIVE_ID, LIVE_ID);
    const cpu2 = cpuSeconds(server.pid);
    const clientCpu = cpuSeconds(client.pid) - client0;
    const peakRss = peak.stop();
    const overflows = listenOverflows() - overflows0;
    const t1 = nowUs();
    await client.request({ type: "close" }, "closed", STEP_TIMEOUT_MS);
    if (profileDir !== undefined) await server.exit(); // --cpu-prof writes its profile as the process exits
    const measured = {
      peer, clients, replay,
      seconds: (live.at - t0) / 1e6,
      cutCpu: cpu1 - cpu0,
      reconnectCpu: cpu2 - cpu1,
      clientCpu,
      rssBefore, peakRss, peakSource: peak.source,
      settled, listenOverflows: overflows, caughtUp: live.caughtUp, missing: live.missing, dropped: live.dropped,
      failures: live.failures,
    };
    return { measured, window: [t0, t1] };
  } finally {
    await server.stop();
  }
}

/** Events from..to to every subscriber: the client listens for the last first, then the server sends. */
async function deliver(server: Server, client: Client, from: number, to: number): Promise<Extract<W7ClientReply, { type: "received" }>> {
  await client.request({ type: "expect", id: to, deadlineMs: W7_DEADLINE_MS }, "expecting", STEP_TIMEOUT_MS);
  await server.request({ type: "send", from, to }, "sent", STEP_TIMEOUT_MS);
  return client.next("received", W7_DEADLINE_MS + STEP_TIMEOUT_MS);
}
