// W6's part of the report: its two tables, its three targets, its verification failures.
import type { Config } from "./config.js";
import { fmt, sig, type Table, type Target } from "./report.js";
import { median } from "./stats.js";
import { commandsPerEvent, cpuPerDelivery, processCpuPerDelivery, W6_CPU_GOAL, w6CpuRatios, type W6Pass, type W6Result, type W6Run } from "./w6.js";
import type { W6Variant } from "./w6/protocol.js";

/** The shared channel's p99 publish-to-delivery on the process that did not publish, at most (µs). */
export const W6_P99_GOAL_US = 5_000;
export const W6_COMMANDS_GOAL = 1;

type Pass = "paced" | "fast";

const LABEL: Record<W6Variant, string> = {
  "in-process": "wasm-sse Channel, 1 process",
  shared: "wasm-sse SharedChannel (Redis stream), 2 processes",
  naive: "naive node:http + Redis pub/sub, 2 processes",
};

function runsOf(w6: W6Result, v: W6Variant): W6Run[] {
  return w6.runs.filter((r) => r.variant === v);
}

/** The median over runs of one number of one variant's pass. */
function med(w6: W6Result, v: W6Variant, pass: Pass, of: (p: W6Pass) => number): number {
  return median(runsOf(w6, v).map((r) => of(r[pass])));
}

const ms = (us: number): string => (Number.isFinite(us) ? `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms` : "—");
const rate = (p: W6Pass): number => p.deliveries / p.seconds;
const redisCpu = (p: W6Pass): number => (p.redisCpu / p.deliveries) * 1e6;
const clientCpu = (p: W6Pass): number => (p.clientCpu / p.seconds) * 100;
/** The non-publishing process's latency (the in-process variant has only the publisher's). */
const otherP99 = (p: W6Pass): number => p.latency.processes[1]?.p99 ?? NaN;

function cpuRatioCell(w6: W6Result, v: W6Variant, pass: Pass): string {
  if (v === "in-process") return "—";
  const per: number[] = [];
  for (const r of runsOf(w6, v)) {
    const local = w6.runs.find((x) => x.variant === "in-process" && x.run === r.run);
    if (local !== undefined) per.push(cpuPerDelivery(r[pass]) / cpuPerDelivery(local[pass]));
  }
  return per.length === 0 ? "—" : `${sig(median(per))}×`;
}

function eachProcessCell(w6: W6Result, v: W6Variant, pass: Pass): string {
  if (v === "in-process") return "—";
  return [0, 1].map((k) => sig(med(w6, v, pass, (p) => processCpuPerDelivery(p, k)))).join(", ");
}

function commandsCell(w6: W6Result, v: W6Variant, pass: Pass): string {
  if (v === "in-process") return "—";
  const each = [0, 1].map((k) => sig(med(w6, v, pass, (p) => p.commands[k]! / p.events)));
  return `${sig(med(w6, v, pass, commandsPerEvent))} (${each.join(" + ")})`;
}

export function w6Tables(result: W6Result | { skipped: string }, c: Config): Table[] {
  if ("skipped" in result) return [{ title: "W6 · one channel over two server processes (Redis)", head: ["skipped"], rows: [[result.skipped]] }];
  const w6 = result;
  const n = `median of ${c.runs} run${c.runs === 1 ? "" : "s"}`;
  const vs = w6.variants;
  return [
    {
      title: `W6 · ${fmt(w6.subscribers)} subscribers, ${fmt(w6.rate)} events/s for ${w6.seconds} s after ${c.w6WarmSeconds} s untimed; the first server process publishes, the others' subscribers get each event from it across processes (${n})`,
      head: ["variant", "deliveries/s", "server µs/delivery", "each process's (publisher, other)", "÷ in-process: CPU/delivery", "redis-server µs/delivery", "client CPU", "latency p50", "p99", "p99 on the other process", "max", "publisher late p99", "Redis commands/event/process (publisher + other)"],
      rows: vs.map((v) => [
        LABEL[v],
        fmt(med(w6, v, "paced", rate)),
        sig(med(w6, v, "paced", cpuPerDelivery)),
        eachProcessCell(w6, v, "paced"),
        cpuRatioCell(w6, v, "paced"),
        v === "in-process" ? "—" : sig(med(w6, v, "paced", redisCpu)),
        `${fmt(med(w6, v, "paced", clientCpu))}%`,
        ms(med(w6, v, "paced", (p) => p.latency.all.p50)),
        ms(med(w6, v, "paced", (p) => p.latency.all.p99)),
        ms(med(w6, v, "paced", otherP99)),
        ms(med(w6, v, "paced", (p) => p.latency.all.max)),
        ms(med(w6, v, "paced", (p) => p.lag?.p99 ?? NaN)),
        commandsCell(w6, v, "paced"),
      ]),
    },
    {
      title: `W6 · the same subscribers, ${fmt(w6.burstEvents)} events as fast as they go, ${c.burst} per turn of the publisher's event loop${c.minSeconds > 0 ? `, repeated until it spans ${c.minSeconds} s` : ""} (${n})`,
      head: ["variant", "deliveries/s", "events/s", "server µs/delivery", "each process's (publisher, other)", "÷ in-process: CPU/delivery", "redis-server µs/delivery", "client CPU", "Redis commands/event/process (publisher + other)"],
      rows: vs.map((v) => [
        LABEL[v],
        fmt(med(w6, v, "fast", rate)),
        fmt(med(w6, v, "fast", (p) => p.events / p.seconds)),
        sig(med(w6, v, "fast", cpuPerDelivery)),
        eachProcessCell(w6, v, "fast"),
        cpuRatioCell(w6, v, "fast"),
        v === "in-process" ? "—" : sig(med(w6, v, "fast", redisCpu)),
        `${fmt(med(w6, v, "fast", clientCpu))}%`,
        commandsCell(w6, v, "fast"),
      ]),
    },
  ];
}

export function w6Targets(w6: W6Result): Target[] {
  const scenario = `${fmt(w6.rate)} events/s to ${fmt(w6.subscribers)} subscribers`;
  const texts = {
    p99: `W6 p99 publish-to-delivery across processes ≤ 5 ms (SharedChannel, ${scenario})`,
    commands: `W6 Redis commands per event per process ≤ ${W6_COMMANDS_GOAL} (SharedChannel)`,
    cpu: `W6 server CPU per delivery, SharedChannel ≤ ${W6_CPU_GOAL}× the in-process Channel's (${scenario})`,
    cpuFast: `W6 server CPU per delivery, SharedChannel ≤ ${W6_CPU_GOAL}× the in-process Channel's (events as fast as they go)`,
  };
  const shared = runsOf(w6, "shared");
  if (shared.length === 0) {
    const why = `not measured: ${w6.notes.join("; ") || "the shared variant did not run"}`;
    return [
      { text: texts.p99, explainedBy: "w6", measured: NaN, goal: W6_P99_GOAL_US, met: false, shown: why },
      { text: texts.commands, explainedBy: "w6", measured: NaN, goal: W6_COMMANDS_GOAL, met: false, shown: why },
      { text: texts.cpu, explainedBy: "w6", measured: NaN, goal: W6_CPU_GOAL, met: false, shown: why },
      { text: texts.cpuFast, explainedBy: "w6", measured: NaN, goal: W6_CPU_GOAL, met: false, shown: why },
    ];
  }
  const runs = (xs: number[], show: (x: number) => string): string => (xs.length < 2 ? "" : `runs ${xs.map(show).join(", ")}; `);
  const out: Target[] = [];

  const p99s = shared.map((r) => otherP99(r.paced));
  const p99 = median(p99s);
  out.push({
    text: texts.p99, explainedBy: "w6", measured: p99, goal: W6_P99_GOAL_US, met: p99 <= W6_P99_GOAL_US,
    shown: `${ms(p99)} on the process that did not publish (${runs(p99s, ms)}every delivery: p50 ${ms(med(w6, "shared", "paced", (p) => p.latency.all.p50))}, p99 ${ms(med(w6, "shared", "paced", (p) => p.latency.all.p99))}; target ≤ 5 ms)`,
  });

  const cmds = shared.map((r) => commandsPerEvent(r.paced));
  const cmd = median(cmds);
  const each = [0, 1].map((k) => sig(med(w6, "shared", "paced", (p) => p.commands[k]! / p.events)));
  out.push({
    text: texts.commands, explainedBy: "w6", measured: cmd, goal: W6_COMMANDS_GOAL, met: cmd <= W6_COMMANDS_GOAL,
    shown: `${sig(cmd)}, the mean of the two processes: the publisher's ${each[0]} (its XADDs included), the other's ${each[1]} (${runs(cmds, sig)}as fast as it goes: ${sig(med(w6, "shared", "fast", commandsPerEvent))}; target ≤ ${W6_COMMANDS_GOAL})`,
  });

  for (const pass of ["paced", "fast"] as const) {
    const ratios = w6CpuRatios(w6, pass);
    const ratio = median(ratios);
    out.push({
      text: pass === "paced" ? texts.cpu : texts.cpuFast, explainedBy: "w6", measured: ratio, goal: W6_CPU_GOAL, met: ratio <= W6_CPU_GOAL,
      shown: `${sig(ratio)}× (${sig(med(w6, "shared", pass, cpuPerDelivery))} µs against ${sig(med(w6, "in-process", pass, cpuPerDelivery))} µs; ${runs(ratios, (x) => `${sig(x)}×`)}target ≤ ${W6_CPU_GOAL}×)`,
    });
  }
  return out;
}

export function w6Failures(w6: W6Result | { skipped: string }): string[] {
  if ("skipped" in w6) return [];
  return w6.runs.flatMap((r) => r.failures.map((f) => `run ${r.run} W6 ${r.variant}: ${f}`));
}

/** For latest.md's closing note: what lies behind a missed W6 target. */
export function w6Explanation(w6: W6Result, t: Target): string[] {
  if (runsOf(w6, "shared").length === 0) return [];
  // The three targets differ by goal (5,000 µs, 1 command, 1.3×).
  if (t.goal === W6_P99_GOAL_US) {
    const local = runsOf(w6, "in-process").map((r) => r.paced.latency.all.p99);
    const ratios = runsOf(w6, "shared").flatMap((s) => {
      const l = w6.runs.find((x) => x.variant === "in-process" && x.run === s.run);
      return l === undefined ? [] : [otherP99(s.paced) / l.paced.latency.all.p99];
    });
    return [
      `For scale, the in-process Channel's p99 in the same runs: ${local.map(ms).join(", ")}; the shared channel's p99 on the other process is ${sig(median(ratios))}× it (median of the runs' ratios).`,
      "At this load the servers and the client need most of the machine's cores, and the shared variant runs four busy processes",
      "(two servers, the client, redis-server) where the in-process one runs two: at every hop an event may wait for a core",
      "(publisher, Redis, the other process, the client). The publisher's own lateness is in the table (\"publisher late\").",
    ];
  }
  if (t.goal === W6_COMMANDS_GOAL) {
    return [
      "Each process issues one XREAD per batch it reads, and the publisher one XADD per event: when reads do not batch",
      "(a process that keeps up reads each event on its own) the publisher's figure nears 2 and the other's 1.",
    ];
  }
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const pass: Pass = t.text.includes("as fast as they go") ? "fast" : "paced";
  const lines: string[] = [];
  if (pass === "paced") {
    // The publisher's commands are its XADDs (one per event) and its XREADs; the other's are XREADs.
    const perRead = (k: number): number => med(w6, "shared", "paced", (p) => p.events / (p.commands[k]! - (k === 0 ? p.events : 0)));
    lines.push(
      "At this rate most of the servers' CPU is socket writes, one per subscriber per batch of events, so CPU per delivery",
      `follows batch size: the shared channel fans out one XREAD reply at a time (here ${sig(perRead(0))} events per XREAD in the publisher's`,
      `process, ${sig(perRead(1))} in the other), the in-process channel the events its timer sends in one turn (more when it runs late).`,
      "",
    );
  }
  for (const p of w6.profiles.filter((x) => x.pass === pass)) {
    lines.push(
      `Profile of the SharedChannel's ${p.process} process over the ${p.pass === "paced" ? "paced pass" : "pass as fast as it goes"} (\`node --cpu-prof\`, ${sig(p.cpuPerDeliveryUs)} µs CPU per delivery to its own subscribers in the profiled run; \`${p.file.replace(/^.*\/bench\//, "bench/")}\`):`,
      "",
      `- by layer: ${p.self.layers.map(([k, x]) => `${k} ${pct(x)}`).join(", ")}`,
      `- top functions (self time): ${p.self.functions.slice(0, 10).map(([k, x]) => `\`${k}\` ${pct(x)}`).join(", ")}`,
      "",
    );
  }
  if (!w6.profiles.some((x) => x.pass === pass)) lines.push("(no profile of W6 in this run: W6 profiles the shared channel when a CPU target is missed in a full run, or with --profile)");
  while (lines.at(-1) === "") lines.pop();
  return lines;
}
