// W7's part of the report: its table, its target, its verification failures, and what lies
// behind a missed target.
import type { Config } from "./config.js";
import { fmt, sig, type Table, type Target } from "./report.js";
import { median } from "./stats.js";
import { cpuPerReconnect, W7_BEFORE, W7_CPU_GOAL, w7CpuRatios, W7_DEADLINE_MS, W7_MISSED, W7_SPREAD_MS, type W7Result, type W7Run } from "./w7.js";
import type { W7Peer } from "./w7/protocol.js";

const TARGET_TEXT = `W7 server CPU per reconnect with replay ≤ ${W7_CPU_GOAL}× naive node:http's per plain reconnect`;

function runsOf(w7: W7Result, peer: W7Peer): W7Run[] {
  return w7.runs.filter((r) => r.peer === peer);
}

/** The median over runs of one number of one peer. */
function med(w7: W7Result, peer: W7Peer, of: (r: W7Run) => number): number {
  return median(runsOf(w7, peer).map(of));
}

/** The sum over runs: a refusal or a timeout in any run shows. */
function total(w7: W7Result, peer: W7Peer, of: (r: W7Run) => number): number {
  return runsOf(w7, peer).reduce((a, r) => a + of(r), 0);
}

const cutPerClient = (r: W7Run): number => (r.cutCpu / r.clients) * 1e6;
const reconnectPerClient = (r: W7Run): number => (r.reconnectCpu / r.clients) * 1e6;
const mib = (bytes: number): string => fmt(bytes / 2 ** 20);
const ids = (from: number, to: number): string => (from === to ? `${from}` : `${from}–${to}`);
const LIVE = W7_BEFORE + W7_MISSED + 1;

/** wasm-sse's CPU per reconnect ÷ this peer's, the median of the runs' ratios. */
function ratioCell(w7: W7Result, peer: W7Peer): string {
  if (peer === "wasm-sse") return "—";
  const per: number[] = [];
  for (const ours of runsOf(w7, "wasm-sse")) {
    const theirs = w7.runs.find((r) => r.peer === peer && r.run === ours.run);
    if (theirs !== undefined) per.push(cpuPerReconnect(ours) / cpuPerReconnect(theirs));
  }
  return per.length === 0 ? "—" : `${sig(median(per))}×`;
}

export function w7Tables(result: W7Result | { skipped: string }, c: Config): Table[] {
  if ("skipped" in result) return [{ title: "W7 · reconnect storm", head: ["skipped"], rows: [[result.skipped]] }];
  const w7 = result;
  const n = `median of ${c.runs} run${c.runs === 1 ? "" : "s"}`;
  return [
    {
      title: `W7 · reconnect storm: ${fmt(w7.clients)} subscribers got events ${ids(1, W7_BEFORE)}; the server cut every connection at once and sent events ${ids(W7_BEFORE + 1, W7_BEFORE + W7_MISSED)} while nobody was connected; each client reconnected at a random moment within ${W7_SPREAD_MS / 1000} s with its Last-Event-ID; once all were back, live event ${LIVE} (${n}; refusals and timeouts summed over the runs)`,
      head: ["peer", "a reconnecting client gets", "every client done, from the cut", "reconnect → caught up, p50 / p99", "server µs per reconnect", "of which the cut", "the reconnects", "wasm-sse ÷ peer: CPU/reconnect", "client CPU", "server RSS before the cut → peak", "connects dropped at a full listen queue (machine-wide)", "refused (503)", "other non-200", "connect errors", `timed out (${W7_DEADLINE_MS / 1000} s)`],
      rows: w7.peers.map((p) => [
        p,
        runsOf(w7, p)[0]?.replay ? `${ids(W7_BEFORE + 1, W7_BEFORE + W7_MISSED)} replayed from the history, then ${LIVE} live` : `${LIVE} live only: a plain reconnect, no replay`,
        `${sig(med(w7, p, (r) => r.seconds))} s`,
        `${sig(med(w7, p, (r) => r.caughtUp.p50))} / ${sig(med(w7, p, (r) => r.caughtUp.p99))} ms`,
        sig(med(w7, p, cpuPerReconnect)),
        sig(med(w7, p, cutPerClient)),
        sig(med(w7, p, reconnectPerClient)),
        ratioCell(w7, p),
        `${fmt(med(w7, p, (r) => (r.clientCpu / r.seconds) * 100))}%`,
        `${mib(med(w7, p, (r) => r.rssBefore))} → ${mib(med(w7, p, (r) => r.peakRss))} MiB`,
        fmt(med(w7, p, (r) => r.listenOverflows)),
        fmt(total(w7, p, (r) => r.settled.refused)),
        fmt(total(w7, p, (r) => r.settled.otherStatus)),
        fmt(total(w7, p, (r) => r.settled.connectErrors)),
        fmt(total(w7, p, (r) => r.settled.pending + r.missing)),
      ]),
    },
  ];
}

export function w7Targets(w7: W7Result): Target[] {
  const per = w7CpuRatios(w7);
  if (per.length === 0) {
    return [{ text: TARGET_TEXT, explainedBy: "w7", measured: NaN, goal: W7_CPU_GOAL, met: false, shown: "not measured: W7 ran without wasm-sse or naive" }];
  }
  const ratio = median(per);
  const runs = per.length < 2 ? "" : `runs ${per.map((x) => `${sig(x)}×`).join(", ")}; `;
  return [{
    text: TARGET_TEXT, explainedBy: "w7", measured: ratio, goal: W7_CPU_GOAL, met: ratio <= W7_CPU_GOAL,
    shown: `${sig(ratio)}× (wasm-sse ${sig(med(w7, "wasm-sse", cpuPerReconnect))} µs with its replay of ${W7_MISSED} events, naive ${sig(med(w7, "naive", cpuPerReconnect))} µs; ${runs}target ≤ ${W7_CPU_GOAL}×)`,
  }];
}

export function w7Failures(w7: W7Result | { skipped: string }): string[] {
  if ("skipped" in w7) return [];
  return w7.runs.flatMap((r) => r.failures.map((f) => `run ${r.run} W7 ${r.peer}: ${f}`));
}

/** For latest.md's closing note: where the servers' time goes in the storm. */
export function w7Explanation(w7: W7Result): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const split = (p: W7Peer): string => `${p} ${sig(med(w7, p, cutPerClient))} µs for the cut, ${sig(med(w7, p, reconnectPerClient))} µs for the reconnect`;
  const lines = [
    `Per client, ${split("wasm-sse")} (its head, the replayed events, the live one); ${split("naive")} (its head and the live event).`,
    "",
  ];
  for (const p of w7.profiles) {
    lines.push(
      `Profile of ${p.peer}'s server over one more storm (\`node --cpu-prof\`, ${sig(p.cpuPerReconnectUs)} µs CPU per reconnect in the profiled run; \`${p.file.replace(/^.*\/bench\//, "bench/")}\`):`,
      "",
      `- by layer: ${p.self.layers.map(([k, x]) => `${k} ${pct(x)}`).join(", ")}`,
      `- top functions (self time): ${p.self.functions.slice(0, 10).map(([k, x]) => `\`${k}\` ${pct(x)}`).join(", ")}`,
      "",
    );
  }
  if (w7.profiles.length === 0) lines.push("(no profile of W7 in this run: W7 profiles wasm-sse's and naive's servers when its target is missed in a full run, or with --profile)");
  while (lines.at(-1) === "") lines.pop();
  return lines;
}
