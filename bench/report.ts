// From raw measurements to what the run reports: per-run metrics, wasm-sse's ratio to each
// peer within the same run, medians over runs, the targets, and text/markdown tables.
import type { Verdict } from "./client/verify.js";
import type { CaseProfile } from "./profile/case.js";
import type { Config } from "./config.js";
import { OPENING_AT_ONCE } from "./protocol.js";
import { median } from "./stats.js";
import type { W4Result } from "./w4.js";
import type { W5Result } from "./w5.js";
import type { W6Result } from "./w6.js";
import { w6Failures, w6Tables, w6Targets } from "./w6-report.js";
import type { W7Result } from "./w7.js";
import { w7Failures, w7Tables, w7Targets } from "./w7-report.js";
import { PEERS, type PeerName, type W1Result, type W2Result, type W3Result } from "./workloads.js";

export interface PeerRun {
  run: number;
  peer: PeerName;
  w1: W1Result;
  w2: W2Result;
  w3: W3Result;
  verdicts: { stream: Verdict; broadcast: Verdict };
}

export interface Results {
  config: Config;
  machine: { cpus: number; cpuModel: string; node: string; loadBefore: number[] };
  startedAt: string;
  seconds: number;
  peerRuns: PeerRun[];
  w4: W4Result;
  w5: W5Result | { skipped: string };
  /** Absent in results written before W6 existed. */
  w6?: W6Result | { skipped: string };
  /** Absent in results written before W7 existed. */
  w7?: W7Result | { skipped: string };
  /** Profiles of wasm-sse's cases behind missed targets (one per case). */
  profiles: CaseProfile[];
  /** Where this run departs from the configuration, and why. */
  notes: string[];
}

/** One number per peer run; `better` says which way is good. */
interface Metric {
  key: string;
  label: string;
  unit: string;
  better: "lower" | "higher";
  of: (r: PeerRun) => number;
}

export const METRICS: Metric[] = [
  { key: "w1Rate", label: "W1 events/s", unit: "ev/s", better: "higher", of: (r) => r.w1.events / r.w1.seconds },
  { key: "w1Cpu", label: "W1 server CPU per event", unit: "µs", better: "lower", of: (r) => (r.w1.serverCpu / r.w1.events) * 1e6 },
  { key: "w1Client", label: "W1 client CPU (share of a core)", unit: "%", better: "lower", of: (r) => (r.w1.clientCpu / r.w1.seconds) * 100 },
  { key: "w2Rate", label: "W2 deliveries/s", unit: "del/s", better: "higher", of: (r) => r.w2.deliveries / r.w2.seconds },
  { key: "w2Events", label: "W2 events/s", unit: "ev/s", better: "higher", of: (r) => r.w2.events / r.w2.seconds },
  { key: "w2Cpu", label: "W2 server CPU per delivery", unit: "µs", better: "lower", of: (r) => (r.w2.serverCpu / r.w2.deliveries) * 1e6 },
  { key: "w2Client", label: "W2 client CPU (share of a core)", unit: "%", better: "lower", of: (r) => (r.w2.clientCpu / r.w2.seconds) * 100 },
  { key: "w3Connects", label: "W3 connects/s", unit: "conn/s", better: "higher", of: (r) => r.w3.connections / r.w3.openSeconds },
  { key: "w3ConnectCpu", label: "W3 server CPU per connect", unit: "µs", better: "lower", of: (r) => (r.w3.openCpu / r.w3.connections) * 1e6 },
  { key: "w3Rss", label: "W3 RSS per idle connection", unit: "KiB", better: "lower", of: (r) => perConnection(r, "rss") },
  { key: "w3Heap", label: "W3 V8 heap per idle connection", unit: "KiB", better: "lower", of: (r) => perConnection(r, "heapUsed") },
  { key: "w3External", label: "W3 external memory per idle connection", unit: "KiB", better: "lower", of: (r) => perConnection(r, "external") },
];

function perConnection(r: PeerRun, what: "rss" | "heapUsed" | "external"): number {
  return (r.w3.after[what] - r.w3.before[what]) / r.w3.connections / 1024;
}

const metric = (key: string): Metric => METRICS.find((m) => m.key === key)!;

/** The median over runs of one metric for one peer. */
export function value(results: Results, peer: PeerName, key: string): number {
  const m = metric(key);
  return median(results.peerRuns.filter((r) => r.peer === peer).map(m.of));
}

/** wasm-sse's metric divided by the peer's, both from the same run, run by run. */
function runRatios(results: Results, peer: PeerName, key: string): number[] {
  const m = metric(key);
  const per: number[] = [];
  for (const ours of results.peerRuns.filter((r) => r.peer === "wasm-sse")) {
    const theirs = results.peerRuns.find((r) => r.peer === peer && r.run === ours.run);
    if (theirs !== undefined) per.push(m.of(ours) / m.of(theirs));
  }
  return per;
}

/** Median over runs of wasm-sse's metric divided by the peer's, both from the same run. */
export function ratio(results: Results, peer: PeerName, key: string): number {
  return median(runRatios(results, peer, key));
}

/** How many times better wasm-sse is (> 1: better), whichever way the metric points. */
export function advantage(results: Results, peer: PeerName, key: string): number {
  const r = ratio(results, peer, key);
  return metric(key).better === "lower" ? 1 / r : r;
}

/** The ratio run by run, as shown beside a target's median ("runs 1/5.9, 1/8.4; "), or "" for one run. */
function perRun(results: Results, peer: PeerName, key: string, show: (ratio: number) => string): string {
  const per = runRatios(results, peer, key);
  return per.length < 2 ? "" : `runs ${per.map(show).join(", ")}; `;
}

export interface Target {
  text: string;
  /** The case whose profile explains a miss: a wasm-sse socket workload, W4's engine path, or W6 or W7 (which profile themselves). */
  explainedBy: "w1" | "w2" | "w3" | "w4" | "w6" | "w7";
  /** A memory target: a CPU profile does not explain it. */
  memory?: true;
  /** What was measured, in the target's own terms. */
  measured: number;
  goal: number;
  met: boolean;
  /** e.g. "1/4.4 of better-sse's (runs 1/4.1, 1/4.4, 1/5.0; target ≤ 1/8)". */
  shown: string;
}

export function targets(results: Results): Target[] {
  const out: Target[] = [];
  out.push(...socketAndW4Targets(results, results.w4));
  if (results.w6 !== undefined && !("skipped" in results.w6)) out.push(...w6Targets(results.w6));
  if (results.w7 !== undefined && !("skipped" in results.w7)) out.push(...w7Targets(results.w7));
  return out;
}

/** wasm-sse's RSS per idle connection may be at most this many times naive node:http's. */
export const W3_RSS_GOAL = 0.8;

function socketAndW4Targets(results: Results, r4: W4Result): Target[] {
  const out: Target[] = [];
  const fewer = (text: string, explainedBy: "w1" | "w2", key: string, goal: number): void => {
    const adv = advantage(results, "better-sse", key);
    const runs = perRun(results, "better-sse", key, (r) => `1/${fmt(1 / r, 1)}`);
    out.push({ text, explainedBy, measured: adv, goal, met: adv >= goal, shown: `1/${fmt(adv, 1)} of better-sse's (${runs}target ≤ 1/${goal})` });
  };
  fewer("W1 server CPU per event ≤ 1/16 of better-sse's", "w1", "w1Cpu", 16);
  const rate = advantage(results, "better-sse", "w1Rate");
  const rateRuns = perRun(results, "better-sse", "w1Rate", (r) => `${fmt(r, 1)}×`);
  out.push({ text: "W1 events/s ≥ 5× better-sse", explainedBy: "w1", measured: rate, goal: 5, met: rate >= 5, shown: `${fmt(rate, 1)}× better-sse (${rateRuns}target ≥ 5×)` });
  fewer("W2 server CPU per delivery ≤ 1/30 of better-sse's", "w2", "w2Cpu", 30);
  const connects = ratio(results, "naive", "w3Connects");
  const connectRuns = perRun(results, "naive", "w3Connects", (r) => `${fmt(r, 2)}×`);
  out.push({ text: "W3 connects/s ≥ naive node:http's", explainedBy: "w3", measured: connects, goal: 1, met: connects >= 1, shown: `${fmt(connects, 2)}× naive's (${connectRuns}target ≥ 1×)` });
  const rss = ratio(results, "naive", "w3Rss");
  const rssRuns = perRun(results, "naive", "w3Rss", (r) => `${fmt(r, 2)}×`);
  out.push({ text: `W3 RSS per idle connection ≤ ${W3_RSS_GOAL}× naive node:http's`, explainedBy: "w3", memory: true, measured: rss, goal: W3_RSS_GOAL, met: rss <= W3_RSS_GOAL, shown: `${fmt(rss, 2)}× naive's (${rssRuns}target ≤ ${W3_RSS_GOAL}×)` });
  const w4 = w4Speedup(r4);
  const ok = w4 >= 2 && r4.identical;
  out.push({
    text: "W4 ≥ 2× the JSON.stringify path, byte-identical",
    explainedBy: "w4",
    measured: w4, goal: 2, met: ok,
    shown: `${fmt(w4, 2)}× (target ≥ 2×), output ${r4.identical ? "byte-identical" : "DIFFERENT"}`,
  });
  return out;
}

/** The engine's per-event path against the faster per-event string path. */
export function w4Speedup(w4: W4Result): number {
  const ns = (prefix: string): number => Math.min(...w4.variants.filter((v) => v.name.startsWith(prefix)).map((v) => v.nsPerEvent));
  return ns("JSON.stringify") / w4.variants.find((v) => v.name === "engine: send + drain per event")!.nsPerEvent;
}

export function verificationFailures(results: Results): string[] {
  return [
    ...results.peerRuns.flatMap((r) => [
      ...r.verdicts.stream.failures.map((f) => `run ${r.run} ${r.peer} stream: ${f}`),
      ...r.verdicts.broadcast.failures.map((f) => `run ${r.run} ${r.peer} broadcast: ${f}`),
    ]),
    ...(results.w6 === undefined ? [] : w6Failures(results.w6)),
    ...(results.w7 === undefined ? [] : w7Failures(results.w7)),
  ];
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return String(x);
  return x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A number with about three significant digits. */
export function sig(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return fmt(x, a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

/** wasm-sse's ratio for a table cell: "0.23 (4.4× less)" style. */
function ratioCell(results: Results, peer: PeerName, key: string): string {
  if (peer === "wasm-sse") return "—";
  const r = ratio(results, peer, key);
  const adv = advantage(results, peer, key);
  const word = metric(key).better === "lower" ? "less" : "more";
  return adv >= 1 ? `${sig(r)} (${sig(adv)}× ${word})` : `${sig(r)} (${sig(1 / adv)}× worse)`;
}

export interface Table {
  title: string;
  head: string[];
  rows: string[][];
}

export function tables(results: Results): Table[] {
  const c = results.config;
  const peers = PEERS.filter((p) => results.peerRuns.some((r) => r.peer === p));
  const n = `median of ${c.runs} run${c.runs === 1 ? "" : "s"}`;
  const t: Table[] = [
    {
      title: `W1 · one connection, ${fmt(c.w1Events)} events as fast as backpressure allows (${n}${c.w1Streams > 1 ? `; each run's figure is the median of ${c.w1Streams} streams` : ""}${c.minSeconds > 0 ? `, each repeated until it spans ${c.minSeconds} s` : ""})`,
      head: ["peer", "events/s", "server µs/event", "client CPU", "wasm-sse ÷ peer: CPU/event", "wasm-sse ÷ peer: events/s"],
      rows: peers.map((p) => [p, fmt(value(results, p, "w1Rate")), sig(value(results, p, "w1Cpu")), `${fmt(value(results, p, "w1Client"))}%`,
        ratioCell(results, p, "w1Cpu"), ratioCell(results, p, "w1Rate")]),
    },
    {
      title: `W2 · ${fmt(c.w2Subscribers)} subscribers, ${fmt(c.w2Events)} broadcast events in bursts of ${c.burst} per event-loop turn (${n}${c.minSeconds > 0 ? `; each repeated until it spans ${c.minSeconds} s` : ""})`,
      head: ["peer", "deliveries/s", "events/s", "server µs/delivery", "client CPU", "wasm-sse ÷ peer: CPU/delivery", "wasm-sse ÷ peer: deliveries/s"],
      rows: peers.map((p) => [c.w2EventsSlow[p] === undefined ? p : `${p} (${fmt(c.w2EventsSlow[p])} events)`, fmt(value(results, p, "w2Rate")), fmt(value(results, p, "w2Events")), sig(value(results, p, "w2Cpu")),
        `${fmt(value(results, p, "w2Client"))}%`, ratioCell(results, p, "w2Cpu"), ratioCell(results, p, "w2Rate")]),
    },
    {
      title: `W3 · ${fmt(c.w3Connections)} idle connections: how fast they open (${OPENING_AT_ONCE} at a time, each until its response head), and RSS growth after a full GC (${n})`,
      head: ["peer", "connects/s", "server µs/connect", "wasm-sse ÷ peer: connects/s", "RSS per connection", "V8 heap per connection", "external per connection (reserved, not all resident)", "wasm-sse ÷ peer: RSS"],
      rows: peers.map((p) => [p, fmt(value(results, p, "w3Connects")), sig(value(results, p, "w3ConnectCpu")), ratioCell(results, p, "w3Connects"),
        `${sig(value(results, p, "w3Rss"))} KiB`, `${sig(value(results, p, "w3Heap"))} KiB`, `${sig(value(results, p, "w3External"))} KiB`, ratioCell(results, p, "w3Rss")]),
    },
    {
      title: `W4 · framing + JSON in process, ${fmt(results.w4.events)} events, output ${results.w4.identical ? "byte-identical" : "NOT identical"} (median of ${c.w4Rounds} interleaved passes, each ending with a timed scavenge of its own garbage)`,
      head: ["path", "ns/event", "events/s"],
      rows: results.w4.variants.map((v) => [v.name, sig(v.nsPerEvent), fmt(1e9 / v.nsPerEvent)]),
    },
  ];
  const w5 = results.w5;
  if ("skipped" in w5) {
    t.push({ title: "W5 · the framing loop under wasm3 and V8", head: ["skipped"], rows: [[w5.skipped]] });
  } else {
    t.push({
      title: `W5 · the same framing loop (send + out_consume per event) under wasm3 (pywasm3) and V8; a Python → wasm3 call costs ${sig(1e6 / w5.emptyCallsPerSecond)} µs`,
      head: ["build", "event", "wasm3 events/s", "wasm3 without Python's calls", "V8 events/s", "V8 ÷ wasm3 (interpreter)"],
      rows: w5.rows.map((r) => [r.build, r.event, fmt(r.wasm3), fmt(r.wasm3Interpreter), fmt(r.v8), `${sig(r.v8 / r.wasm3Interpreter)}×`]),
    });
  }
  if (results.w6 !== undefined) t.push(...w6Tables(results.w6, c));
  if (results.w7 !== undefined) t.push(...w7Tables(results.w7, c));
  return t;
}

export function textTable(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [t.title, line(t.head), widths.map((w) => "─".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
}

export function markdownTable(t: Table): string {
  const row = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [`### ${t.title}`, "", row(t.head), row(t.head.map((_, i) => (i === 0 ? "---" : "---:"))), ...t.rows.map(row)].join("\n");
}
