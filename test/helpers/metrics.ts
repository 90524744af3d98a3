// For the metrics tests: exact deltas between two stats snapshots, the body bytes of a raw
// chunked response, promtool, and a small parser of the Prometheus text format.
import { spawn } from "node:child_process";
import { expect } from "vitest";
import type { StreamStats } from "../../host/common/stream-stats.js";

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] | Matcher };

/** An asymmetric matcher (vitest knows one by its asymmetricMatch method). */
export interface Matcher {
  asymmetricMatch(other: unknown): boolean;
  toString(): string;
}

/** A number in [lo, hi]. */
export function between(lo: number, hi: number): Matcher {
  return {
    asymmetricMatch: (n: unknown) => typeof n === "number" && n >= lo && n <= hi,
    toString: () => `between(${lo}, ${hi})`,
    toAsymmetricMatcher: () => `between(${lo}, ${hi})`,
  } as Matcher;
}

/** One of these numbers. */
export function oneOf(values: readonly number[]): Matcher {
  return {
    asymmetricMatch: (n: unknown) => typeof n === "number" && values.includes(n),
    toString: () => `oneOf(${values.join(", ")})`,
    toAsymmetricMatcher: () => `oneOf(${values.join(", ")})`,
  } as Matcher;
}

export function zeroStats(): StreamStats {
  return {
    open: 0,
    opened: 0,
    ended: { returned: 0, client_gone: 0, buffer_full: 0, stalled: 0, server_closing: 0, core_trap: 0, broker_unavailable: 0 },
    events: 0,
    comments: 0,
    keepAlives: 0,
    bytesWritten: 0,
    bytesBuffered: 0,
    bytesBufferedPeak: 0,
    refused: { 204: 0, 400: 0, 405: 0, 406: 0, 503: 0 },
    engines: 0,
    slotsInUse: 0,
  };
}

/** after − before, field by field (every field: counters and gauges alike). */
export function statsDelta(before: StreamStats, after: StreamStats): StreamStats {
  const d = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.keys(b).map((k) => [k, typeof b[k] === "object" ? d(a[k] as Record<string, unknown>, b[k] as Record<string, unknown>) : (b[k] as number) - (a[k] as number)]));
  return d(before as unknown as Record<string, unknown>, after as unknown as Record<string, unknown>) as unknown as StreamStats;
}

/** Zero everywhere except `changes`: every field is compared, so a counter that moved unasked fails. */
export function expected(changes: DeepPartial<StreamStats>): StreamStats {
  const z = zeroStats() as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(changes)) {
    if (typeof v === "object" && v !== null && !("asymmetricMatch" in v)) z[k] = { ...(z[k] as object), ...v };
    else z[k] = v;
  }
  return z as unknown as StreamStats;
}

/** Asserts after − before equals `changes` on every field (unnamed ones: 0). */
export function expectDelta(before: StreamStats, after: StreamStats, changes: DeepPartial<StreamStats>): void {
  expect(statsDelta(before, after)).toEqual(expected(changes));
}

/** The body bytes of a raw HTTP/1.1 chunked response (latin1 text, one char a byte): what the server's writes put on the wire, without the coding. */
export function bodyBytes(raw: string): number {
  const start = raw.indexOf("\r\n\r\n");
  if (start < 0) return 0;
  let p = start + 4;
  let total = 0;
  while (p < raw.length) {
    const eol = raw.indexOf("\r\n", p);
    if (eol < 0) break;
    const size = parseInt(raw.slice(p, eol), 16);
    if (!(size > 0) || eol + 2 + size > raw.length) break;
    total += size;
    p = eol + 2 + size + 2;
  }
  return total;
}

/** The body of a raw chunked response as text (latin1: one char a byte). */
export function bodyText(raw: string): string {
  const start = raw.indexOf("\r\n\r\n");
  if (start < 0) return "";
  let p = start + 4;
  let body = "";
  while (p < raw.length) {
    const eol = raw.indexOf("\r\n", p);
    if (eol < 0) break;
    const size = parseInt(raw.slice(p, eol), 16);
    if (!(size > 0) || eol + 2 + size > raw.length) break;
    body += raw.slice(eol + 2, eol + 2 + size);
    p = eol + 2 + size + 2;
  }
  return body;
}

/** `promtool check metrics` on `text` (stdin): its exit code and everything it printed. */
export function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.once("error", (error) => (clearTimeout(timer), reject(error)));
    child.once("close", (code) => (clearTimeout(timer), resolve({ code, output })));
    child.stdin.end(text);
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (0.0.4), label values unescaped; TYPE lines by name. Throws on a line it cannot read. */
export function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    let p = 0;
    while (p < body.length) {
      const eq = body.indexOf('="', p);
      if (eq < 0) throw new Error(`bad labels: ${body}`);
      const key = body.slice(p, eq);
      let value = "";
      let q = eq + 2;
      for (; body[q] !== '"'; q++) {
        if (q >= body.length) throw new Error(`unterminated label value: ${body}`);
        if (body[q] === "\\") {
          const next = body[++q];
          value += next === "n" ? "\n" : next;
        } else value += body[q];
      }
      labels[key] = value;
      p = q + 1;
      if (body[p] === ",") p++;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return { samples, types };
}

/** The one sample of `name` whose labels include `labels`; throws if there is not exactly one. */
export function sampleOf(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
}
