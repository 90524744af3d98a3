// npm run bench [-- --quick] [--out DIR] [--peers a,b] [--profile]: every workload against every peer,
// a progress line per case, the tables, and bench/results/{latest.md,ratios.svg,latest.json}.
// --only w6 or --only w7 runs that case alone and writes its latest.md and latest.json to
// bench/results/w6/ or w7/ (quick: results/quick/w6/, w7/); --w6-variants in-process,shared,naive
// picks W6's variants; --peers also picks W7's (of wasm-sse, better-sse and naive).
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Child } from "./child.js";
import { FULL, QUICK, type Config } from "./config.js";
import { w3Headroom } from "./limits.js";
import { markdown, w6Markdown, type W6OnlyResults, w7Markdown, type W7OnlyResults } from "./document.js";
import { type CaseProfile, profileCase, type ProfiledWorkload } from "./profile/case.js";
import { profileEngine } from "./profile/engine.js";
import { describeProfile } from "./profile/run.js";
import { fmt, type PeerRun, type Results, sig, type Table, type Target, tables, targets, textTable, verificationFailures } from "./report.js";
import { ratioChart } from "./svg.js";
import type { W4Result } from "./w4.js";
import { runW5 } from "./w5.js";
import { runW6 } from "./w6.js";
import { w6Failures, w6Tables, w6Targets } from "./w6-report.js";
import { W6_VARIANTS, type W6Variant } from "./w6/protocol.js";
import { runW7, type W7Result } from "./w7.js";
import { w7Failures, w7Tables, w7Targets } from "./w7-report.js";
import { W7_PEERS } from "./w7/protocol.js";
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
/** --w6-subscribers N, --w6-rate N, --w6-seconds N: W6 at another load than the configuration's (e.g. to see latency off saturation). */
const w6Overrides = Object.fromEntries(
  (["w6Subscribers", "w6Rate", "w6Seconds"] as const)
    .map((k) => [k, option(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const n = Number(v);
      if (!(n > 0)) throw new Error(`--${k} takes a positive number, got ${v}`);
      return [k, n];
    }),
) as Partial<Config>;
if (Object.keys(w6Overrides).length > 0) notes.push(`W6 ran with ${Object.entries(w6Overrides).map(([k, v]) => `${k} ${v}`).join(", ")}, not the ${base.mode} configuration's.`);
const cfg: Config = { ...base, w3Connections, ...w6Overrides, profileMisses: base.profileMisses || process.argv.includes("--profile") };
const only = option("--only");
if (only !== undefined && only !== "w6" && only !== "w7") throw new Error(`--only takes w6 or w7, got ${only}`);
const outDir = path.resolve(option("--out") ?? path.join(here, "results", cfg.mode === "quick" ? "quick" : "", only ?? ""));
const w6Variants = (option("--w6-variants")?.split(",") ?? [...W6_VARIANTS]) as W6Variant[];
for (const v of w6Variants) if (!W6_VARIANTS.includes(v)) throw new Error(`unknown W6 variant ${v}; variants are ${W6_VARIANTS.join(", ")}`);
const peers = (option("--peers")?.split(",") ?? [...PEERS]) as PeerName[];
for (const p of peers) if (!PEERS.includes(p)) throw new Error(`unknown peer ${p}; peers are ${PEERS.join(", ")}`);
const w7Peers = W7_PEERS.filter((p) => peers.includes(p));

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
          say(`${tag} W3 ${fmt(r3.connections)} idle connections: ${fmt(r3.connections / r3.openSeconds)} connects/s, server ${sig((r3.openCpu / r3.connections) * 1e6)} µs/connect; ${perConn("rss")} KiB RSS each (V8 heap ${perConn("heapUsed")} KiB)`);
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

/** wasm-sse's CPU profile for each case behind a missed CPU target (a memory target's table splits it). */
async function profileMisses(results: Results): Promise<CaseProfile[]> {
  if (!cfg.profileMisses || !peers.includes("wasm-sse")) return [];
  // W6 and W7 profile their servers themselves (bench/w6.ts, bench/w7.ts).
  const cases = new Set(targets(results).filter((t) => !t.met && t.memory !== true && t.explainedBy !== "w6" && t.explainedBy !== "w7").map((t) => t.explainedBy));
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

function machine(loadBefore: number[]): Results["machine"] {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", node: process.version, loadBefore };
}

/** `--only w6`: W6 alone, its own latest.md and latest.json. */
async function w6Only(): Promise<number> {
  const loadBefore = os.loadavg();
  say(`wasm-sse bench, W6 alone, ${cfg.mode} mode: ${cfg.runs} run(s) of ${w6Variants.join(", ")}; results to ${outDir}`);
  const w6 = await runW6(cfg, say, w6Variants);
  if ("skipped" in w6) say(`W6 skipped: ${w6.skipped}`);
  const results: W6OnlyResults = { config: cfg, machine: machine(loadBefore), startedAt: new Date(started).toISOString(), seconds: 0, w6, notes: [...notes, ...("skipped" in w6 ? [] : w6.notes)] };
  return finishAlone(results, w6Tables(w6, cfg), "skipped" in w6 ? [] : w6Targets(w6), w6Failures(w6), () => w6Markdown(results));
}

/** `--only w7`: W7 alone, its own latest.md and latest.json. */
async function w7Only(): Promise<number> {
  const loadBefore = os.loadavg();
  say(`wasm-sse bench, W7 alone, ${cfg.mode} mode: ${cfg.runs} run(s) of ${w7Peers.join(", ")}, ${fmt(cfg.w7Clients)} clients; results to ${outDir}`);
  if (w7Peers.length === 0) throw new Error(`W7's peers are ${W7_PEERS.join(", ")}: --peers named none of them`);
  const w7 = await runW7(cfg, say, w7Peers);
  const results: W7OnlyResults = { config: cfg, machine: machine(loadBefore), startedAt: new Date(started).toISOString(), seconds: 0, w7, notes };
  return finishAlone(results, w7Tables(w7, cfg), w7Targets(w7), w7Failures(w7), () => w7Markdown(results));
}

/** A case run alone: its tables and targets on the console, latest.json and latest.md; 1 if a verification failed. */
function finishAlone(results: { seconds: number }, tabled: Table[], tg: Target[], failures: string[], md: () => string): number {
  console.log("");
  for (const t of tabled) console.log(textTable(t) + "\n");
  for (const t of tg) console.log(`${t.met ? "met   " : "MISSED"}  ${t.text}: ${t.shown}`);
  console.log("");
  results.seconds = (Date.now() - started) / 1000;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(path.join(outDir, "latest.md"), md());
  say(`wrote latest.md and latest.json to ${outDir}`);
  if (failures.length > 0) {
    console.error("verification failed: the numbers above do not count");
    return 1;
  }
  return 0;
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
  // A W6 failure (a hang, a server's error) is reported and fails the run, without losing the other cases' results.
  let w6Error: string | undefined;
  const r6 = await runW6(cfg, say, w6Variants).catch((error: unknown) => {
    w6Error = (error as Error).message;
    return { skipped: `W6 failed: ${w6Error}` };
  });
  if ("skipped" in r6) say(`W6 skipped: ${r6.skipped}`);
  else notes.push(...r6.notes.map((n) => `W6: ${n}.`));
  // As W6: a W7 failure (a hang, too few open files) fails the run without losing the other cases.
  let w7Error: string | undefined;
  const r7: W7Result | { skipped: string } = w7Peers.length === 0
    ? { skipped: `none of W7's peers (${W7_PEERS.join(", ")}) was asked for` }
    : await runW7(cfg, say, w7Peers).catch((error: unknown) => {
        w7Error = (error as Error).message;
        return { skipped: `W7 failed: ${w7Error}` };
      });
  if ("skipped" in r7) say(`W7 skipped: ${r7.skipped}`);

  const results: Results = {
    config: cfg,
    machine: machine(loadBefore),
    startedAt: new Date(started).toISOString(),
    seconds: 0,
    peerRuns,
    w4: r4,
    w5: r5,
    w6: r6,
    w7: r7,
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
  if (w6Error !== undefined) {
    console.error(`W6 failed: ${w6Error}`);
    return 1;
  }
  if (w7Error !== undefined) {
    console.error(`W7 failed: ${w7Error}`);
    return 1;
  }
  return 0;
}

process.exitCode = only === "w6" ? await w6Only() : only === "w7" ? await w7Only() : await main();
