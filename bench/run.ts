// npm run bench [-- --quick] [--out DIR] [--peers a,b] [--profile]: every workload against every peer,
// a progress line per case, the tables, and bench/results/{latest.md,ratios.svg,latest.json}.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "./child.js";
import { FULL, QUICK, type Config } from "./config.js";
import { w3Headroom } from "./limits.js";
import { markdown } from "./document.js";
import { type CaseProfile, profileCase, type ProfiledWorkload } from "./profile/case.js";
import { profileEngine } from "./profile/engine.js";
import { describeProfile } from "./profile/run.js";
import { fmt, type PeerRun, type Results, sig, tables, targets, textTable, verificationFailures } from "./report.js";
import { ratioChart } from "./svg.js";
import type { W4Result } from "./w4.js";
import { runW5 } from "./w5.js";
import type { Verdict } from "./client/verify.js";
import { PEERS, type PeerName, type Running, startClient, startPeer, verifyStream, w1, w2, w3 } from "./workloads.js";

const here = path.dirname(fileURLToPath(import.meta.url));

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

const base: Config = process.argv.includes("--quick") ? QUICK : FULL;
const notes: string[] = [];
const w3Connections = w3Headroom(base.w3Connections);
if (w3Connections < base.w3Connections) {
  notes.push(`W3 holds ${w3Connections} connections, not ${base.w3Connections}: the open-file limit (ulimit -n) allows no more here.`);
}
const cfg: Config = { ...base, w3Connections, profileMisses: base.profileMisses || process.argv.includes("--profile") };
const outDir = path.resolve(option("--out") ?? path.join(here, "results", cfg.mode === "quick" ? "quick" : ""));
const peers = (option("--peers")?.split(",") ?? [...PEERS]) as PeerName[];
for (const p of peers) if (!PEERS.includes(p)) throw new Error(`unknown peer ${p}; peers are ${PEERS.join(", ")}`);

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string): void => console.log(`${elapsed()}  ${line}`);

async function socketWorkloads(): Promise<PeerRun[]> {
  const out: PeerRun[] = [];
  const client = startClient();
  try {
    for (let run = 1; run <= cfg.runs; run++) {
      // Every peer's server is up for W1, whose streams take turns across the peers (see w1).
      const running: Running[] = [];
      try {
        const streams: Verdict[] = [];
        for (const peer of peers) {
          running.push(await startPeer(peer, cfg));
          streams.push(await verifyStream(running.at(-1)!.port, client, cfg));
        }
        const r1s = await w1(running, client, cfg);
        for (const [i, peer] of peers.entries()) {
          const tag = `run ${run}/${cfg.runs} ${peer.padEnd(10)}`;
          const { server, port } = running[i]!;
          const [stream, r1] = [streams[i]!, r1s[i]!];
          say(`${tag} W1 ${fmt(r1.events)} events in ${r1.seconds.toFixed(2)} s: ${fmt(r1.events / r1.seconds)} ev/s, server ${sig((r1.serverCpu / r1.events) * 1e6)} µs/event, client ${fmt((r1.clientCpu / r1.seconds) * 100)}% CPU`);
          const r2 = await w2(server, port, client, cfg);
          const d = r2.result;
          say(`${tag} W2 ${fmt(d.deliveries)} deliveries in ${d.seconds.toFixed(2)} s: ${fmt(d.deliveries / d.seconds)} del/s, server ${sig((d.serverCpu / d.deliveries) * 1e6)} µs/delivery, client ${fmt((d.clientCpu / d.seconds) * 100)}% CPU`);
          await server.stop();
          const r3 = await w3(peer, client, cfg);
          const perConn = (what: "rss" | "heapUsed"): string => sig((r3.after[what] - r3.before[what]) / r3.connections / 1024);
          say(`${tag} W3 ${fmt(r3.connections)} idle connections: ${perConn("rss")} KiB RSS each (V8 heap ${perConn("heapUsed")} KiB)`);
          const verdicts = { stream, broadcast: r2.verdict };
          for (const f of [...stream.failures, ...r2.verdict.failures]) say(`${tag} VERIFY FAILED: ${f}`);
          out.push({ run, peer, w1: r1, w2: r2.result, w3: r3, verdicts });
        }
      } finally {
        for (const { server } of running) await server.stop();
      }
    }
  } finally {
    await client.stop();
  }
  return out;
}

async function w4(): Promise<W4Result> {
  const child = new Child<never, W4Result>("w4", path.join(here, "w4.ts"), ["--events", String(cfg.w4Events), "--rounds", String(cfg.w4Rounds)], ["--expose-gc"]);
  try {
    return await child.next("w4", 300_000);
  } finally {
    await child.stop();
  }
}

function write(results: Results): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(path.join(outDir, "latest.md"), markdown(results));
  writeFileSync(path.join(outDir, "ratios.svg"), ratioChart(results));
  say(`wrote latest.md, ratios.svg and latest.json to ${outDir}`);
}

/** wasm-sse's CPU profile for each case behind a missed CPU target (W3 is memory: its table splits it). */
async function profileMisses(results: Results): Promise<CaseProfile[]> {
  if (!cfg.profileMisses || !peers.includes("wasm-sse")) return [];
  const cases = new Set(targets(results).filter((t) => !t.met && t.explainedBy !== "w3").map((t) => t.explainedBy));
  const out: CaseProfile[] = [];
  for (const c of cases) {
    say(`profiling wasm-sse ${c.toUpperCase()}, behind a missed target`);
    try {
      const p = c === "w4" ? await profileEngine(cfg) : await profileCase("wasm-sse", c as ProfiledWorkload, cfg);
      for (const line of describeProfile(p, 10)) console.log(`      ${line}`);
      out.push(p);
    } catch (error) {
      // The measurements stand without it; the closing note says the profile is missing.
      say(`profiling ${c.toUpperCase()} failed: ${(error as Error).message}`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  const loadBefore = os.loadavg();
  say(`wasm-sse bench, ${cfg.mode} mode: ${cfg.runs} run(s) × ${peers.length} peers; results to ${outDir}`);
  for (const note of notes) say(`note: ${note}`);
  const peerRuns = await socketWorkloads();
  const r4 = await w4();
  say(`W4 ${fmt(r4.events)} events, ${r4.identical ? "byte-identical" : "NOT IDENTICAL"}: ${r4.variants.map((v) => `${v.name} ${sig(v.nsPerEvent)} ns`).join("; ")}`);
  const r5 = await runW5(cfg);
  say("skipped" in r5 ? `W5 skipped: ${r5.skipped}` : `W5 ${r5.rows.map((r) => `${r.build} ${r.event}: wasm3 ${fmt(r.wasm3)} ev/s, V8 ${fmt(r.v8)} ev/s`).join("; ")}`);

  const cpus = os.cpus();
  const results: Results = {
    config: cfg,
    machine: { cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", node: process.version, loadBefore },
    startedAt: new Date(started).toISOString(),
    seconds: 0,
    peerRuns,
    w4: r4,
    w5: r5,
    profiles: [],
    notes,
  };
  console.log("");
  for (const t of tables(results)) console.log(textTable(t) + "\n");
  for (const t of targets(results)) console.log(`${t.met ? "met   " : "MISSED"}  ${t.text}: ${t.shown}`);
  console.log("");
  results.seconds = (Date.now() - started) / 1000;
  write(results);
  results.profiles = await profileMisses(results);
  if (results.profiles.length > 0) write(results);

  const failures = verificationFailures(results);
  if (failures.length > 0 || !r4.identical) {
    console.error("verification failed: the numbers above do not count");
    return 1;
  }
  return 0;
}

process.exitCode = await main();
