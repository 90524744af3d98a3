// The ratio chart, hand-written SVG: for each comparison, how many times better wasm-sse
// is than each peer in the same run (log scale; right of 1× is better), with the targets.
import { advantage, fmt, type Results, W3_RSS_GOAL, w4Speedup } from "./report.js";
import type { PeerName } from "./workloads.js";

interface Bar {
  peer: string;
  value: number;
  target?: number;
}

interface Group {
  title: string;
  bars: Bar[];
}

const OTHERS: PeerName[] = ["better-sse", "hono", "naive", "ceiling"];
/** Each target as an advantage (times better than the peer): RSS ≤ 0.8× naive's is 1.25× less. */
const TARGETS: Record<string, Partial<Record<PeerName, number>>> = {
  w1Cpu: { "better-sse": 16 },
  w1Rate: { "better-sse": 5 },
  w2Cpu: { "better-sse": 30 },
  w3Rss: { naive: 1 / W3_RSS_GOAL },
};

function groups(results: Results): Group[] {
  const peers = OTHERS.filter((p) => results.peerRuns.some((r) => r.peer === p));
  const g = (key: string, title: string): Group => ({
    title,
    bars: peers.map((p) => ({ peer: p, value: advantage(results, p, key), target: TARGETS[key]?.[p] })),
  });
  return [
    g("w1Cpu", "W1 · less server CPU per event"),
    g("w1Rate", "W1 · more events/s"),
    g("w2Cpu", "W2 · less server CPU per delivery"),
    g("w2Rate", "W2 · more deliveries/s"),
    g("w3Rss", "W3 · less RSS per idle connection"),
    { title: "W4 · framing + JSON in process", bars: [{ peer: "JSON.stringify path", value: w4Speedup(results.w4), target: 2 }] },
  ];
}

const LABEL_X = 16;
const PLOT_X = 290;
const PLOT_W = 560;
const BAR_H = 16;
const BAR_GAP = 4;
const GROUP_GAP = 26;
const TOP = 64;

export function ratioChart(results: Results): string {
  const gs = groups(results);
  const values = gs.flatMap((g) => g.bars.flatMap((b) => [b.value, b.target ?? 1])).filter((v) => v > 0 && Number.isFinite(v));
  // A decade's margin where a bar comes close to the edge leaves room for its label.
  const lo = Math.min(0.1, 10 ** Math.floor(Math.log10(Math.min(...values) / 3)));
  const hi = Math.max(10, 10 ** Math.ceil(Math.log10(Math.max(...values) * 3)));
  const x = (v: number): number => PLOT_X + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_W;

  const parts: string[] = [];
  let y = TOP;
  for (const g of gs) {
    parts.push(`<text x="${LABEL_X}" y="${y + 12}" class="group">${esc(g.title)}</text>`);
    y += 18;
    for (const b of g.bars) {
      const v = Math.min(Math.max(b.value, lo), hi);
      const x0 = Math.min(x(1), x(v));
      const w = Math.max(1, Math.abs(x(v) - x(1)));
      // The ceiling is not a competitor but the socket path's limit: its bar is neutral.
      const kind = b.peer === "ceiling" ? "limit" : (b.target === undefined ? b.value >= 1 : b.value >= b.target) ? "good" : "bad";
      parts.push(`<text x="${PLOT_X - 8}" y="${y + 12}" class="peer">vs ${esc(b.peer)}</text>`);
      parts.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" class="${kind}"/>`);
      const labelX = b.value >= 1 ? x0 + w + 4 : x0 - 4;
      parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 12}" class="value" text-anchor="${b.value >= 1 ? "start" : "end"}">${esc(times(b.value))}</text>`);
      if (b.target !== undefined) {
        const tx = x(b.target).toFixed(1);
        parts.push(`<line x1="${tx}" y1="${y - 2}" x2="${tx}" y2="${y + BAR_H + 2}" class="target"/>`);
      }
      y += BAR_H + BAR_GAP;
    }
    y += GROUP_GAP - BAR_GAP;
  }
  const height = y + 24;

  const grid: string[] = [];
  for (let p = Math.round(Math.log10(lo)); p <= Math.round(Math.log10(hi)); p++) {
    const gx = x(10 ** p).toFixed(1);
    grid.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${height - 28}" class="${p === 0 ? "one" : "grid"}"/>`);
    grid.push(`<text x="${gx}" y="${TOP - 10}" class="axis" text-anchor="middle">${fmt(10 ** p, Math.max(0, -p))}×</text>`);
  }

  const c = results.config;
  const subtitle = `${c.mode} run, median of ${c.runs}; ${results.machine.cpus} cores, Node ${results.machine.node}; log scale, right of 1× is better; | marks a target; grey: the hand-made ceiling`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT_X + PLOT_W + 90}" height="${height}" viewBox="0 0 ${PLOT_X + PLOT_W + 90} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    "<style>",
    ".title{font-size:16px;font-weight:600} .sub{fill:#555} .group{font-weight:600} .peer{text-anchor:end;fill:#333}",
    ".value{fill:#222} .axis{fill:#666;font-size:11px} .grid{stroke:#e3e3e3} .one{stroke:#888}",
    ".good{fill:#2f7d4f} .bad{fill:#c0463a} .limit{fill:#9a9a9a} .target{stroke:#111;stroke-width:2}",
    "</style>",
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LABEL_X}" y="22" class="title">wasm-sse against the SSE servers people use: times better</text>`,
    `<text x="${LABEL_X}" y="40" class="sub">${esc(subtitle)}</text>`,
    ...grid,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

function times(v: number): string {
  if (v >= 100) return `${fmt(v)}×`;
  if (v >= 10) return `${fmt(v, 1)}×`;
  if (v >= 1) return `${fmt(v, 2)}×`;
  return `${fmt(v, v >= 0.1 ? 2 : 3)}×`;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
