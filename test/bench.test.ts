// The bench (bench/): its byte-level event counter and HTTP reader agree with
// eventsource-parser however the bytes are split, its check catches a wrong stream, and one
// --quick run against every peer completes, verifies every peer's events and writes its
// results. No speed is asserted here: speed is what the bench reports.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createParser } from "eventsource-parser";
import { afterAll, describe, expect, it } from "vitest";
import { EventCounter } from "../bench/client/counter.js";
import { ResponseReader } from "../bench/client/response.js";
import { StreamCheck } from "../bench/client/verify.js";
import { QUICK } from "../bench/config.js";
import { frameText } from "../bench/event.js";
import type { Results } from "../bench/report.js";
import { PEERS } from "../bench/workloads.js";

/** The event stream bytes of events 0..n-1, as the string path frames them. */
function body(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => frameText(i)).join(""));
}

/** A chunked HTTP/1.1 response carrying `payload` in chunks of the given sizes. */
function chunkedResponse(payload: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")];
  let p = 0;
  for (let i = 0; p < payload.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, payload.length - p);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), payload.subarray(p, p + n), Buffer.from("\r\n"));
    p += n;
  }
  return Buffer.concat(parts);
}

/** Splits bytes into pieces of pseudo-random sizes in [1, max] (a fixed seed: reproducible). */
function split(bytes: Buffer, max: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let s = seed;
  for (let p = 0; p < bytes.length; ) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (s % max);
    out.push(bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

function parserCount(bytes: Buffer): number {
  let n = 0;
  const parser = createParser({ onEvent: () => n++ });
  parser.feed(bytes.toString("utf8"));
  return n;
}

describe("the bench client's event counter", () => {
  const events = body(300);

  it("counts what eventsource-parser dispatches, however the bytes are split", () => {
    expect(parserCount(events)).toBe(300);
    for (const [max, seed] of [[1, 1], [2, 7], [13, 3], [200, 5], [5000, 11]] as const) {
      const counter = new EventCounter();
      for (const piece of split(events, max, seed)) counter.feed(piece);
      expect(counter.events).toBe(300);
      expect(counter.bytes).toBe(events.length);
    }
  });

  it("counts a blank line split across reads once, and a third LF as no event", () => {
    const counter = new EventCounter();
    for (const piece of ["data: a\n", "\n", "data: b\n\n\n", "data: c\n"]) counter.feed(Buffer.from(piece));
    expect(counter.events).toBe(2);
    counter.feed(Buffer.from("\n"));
    expect(counter.events).toBe(3);
  });
});

describe("the bench client's HTTP reader", () => {
  const events = body(200);

  it("removes chunked framing, whatever the chunk sizes and read boundaries", () => {
    for (const [sizes, max, seed] of [[[1], 7, 1], [[59, 60, 61], 64, 2], [[1, 2, 3, 4096], 1, 3], [[1 << 20], 9000, 4]] as const) {
      const got: Buffer[] = [];
      const reader = new ResponseReader((b) => got.push(Buffer.from(b)));
      for (const piece of split(chunkedResponse(events, [...sizes]), max, seed)) reader.feed(piece);
      expect(reader.status).toBe(200);
      expect(Buffer.concat(got).equals(events)).toBe(true);
    }
  });

  it("passes a body without chunked coding through unchanged", () => {
    const got: Buffer[] = [];
    const reader = new ResponseReader((b) => got.push(Buffer.from(b)));
    reader.feed(Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"), events]));
    expect(Buffer.concat(got).equals(events)).toBe(true);
  });

  it("refuses a response that is not 200 or not HTTP", () => {
    expect(() => new ResponseReader(() => {}).feed(Buffer.from("HTTP/1.1 503 Busy\r\n\r\n"))).toThrow(/status 503/);
    expect(() => new ResponseReader(() => {}).feed(Buffer.from("SSH-2.0-x\r\n\r\n"))).toThrow(/not an HTTP response/);
  });

  it("refuses a chunk size that is not hex", () => {
    const reader = new ResponseReader(() => {});
    expect(() => reader.feed(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))).toThrow(/bad chunk size/);
  });
});

describe("the bench's stream check", () => {
  it("passes the stream every peer must serve", () => {
    const check = new StreamCheck();
    check.feed(body(50));
    expect(check.verdict(50)).toEqual({ parserEvents: 50, counterEvents: 50, failures: [] });
  });

  it("catches a missing event name, wrong data, a skipped event and a counter that disagrees", () => {
    const frames = Array.from({ length: 12 }, (_, i) => frameText(i));
    frames[9] = frames[9]!.replace("event: sensor\n", ""); // event 9 loses its name
    frames[3] = frames[3]!.replace('"counter":3', '"counter":33');
    frames.splice(5, 1); // event 5 never comes
    const check = new StreamCheck();
    check.feed(Buffer.from(frames.join("")));
    const v = check.verdict(12);
    expect(v.parserEvents).toBe(11);
    expect(v.failures.join("\n")).toMatch(/event 3: data/);
    expect(v.failures.join("\n")).toMatch(/event 5: data .*"counter":6/);
    expect(v.failures.join("\n")).toMatch(/counter saw 12 events, eventsource-parser 11/);
  });
});

describe("npm run bench:quick", () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "wasm-sse-bench-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("runs every workload against every peer, verifies every peer's events and writes its results", async () => {
    const root = path.resolve(import.meta.dirname, "..");
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick", "--out", out], { cwd: root, timeout: 170_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);

    const results = JSON.parse(readFileSync(path.join(out, "latest.json"), "utf8")) as Results;
    expect(results.peerRuns.map((r) => r.peer)).toEqual([...PEERS]);
    for (const r of results.peerRuns) {
      // Each peer's stream and first subscriber were read by eventsource-parser and the counter alike.
      expect(r.verdicts.stream).toEqual({ parserEvents: QUICK.verifyEvents, counterEvents: QUICK.verifyEvents, failures: [] });
      expect(r.verdicts.broadcast).toEqual({ parserEvents: QUICK.w2Events, counterEvents: QUICK.w2Events, failures: [] });
      expect(r.w1.events).toBe(QUICK.w1Events);
      expect(r.w2.deliveries).toBe(QUICK.w2Subscribers * QUICK.w2Events);
      expect(r.w3.connections).toBe(QUICK.w3Connections);
      expect(r.w3.after.rss).toBeGreaterThan(r.w3.before.rss); // 500 open streams cost some memory
      expect(r.w3.after.heapUsed).toBeGreaterThan(r.w3.before.heapUsed);
      expect(r.w1.serverCpu).toBeGreaterThanOrEqual(0);
    }
    expect(results.w4.identical).toBe(true);

    // A progress line per case, then the tables with every peer.
    for (const peer of PEERS) for (const w of ["W1", "W2", "W3"]) expect(stdout).toMatch(new RegExp(`${peer} +${w} `));
    const md = readFileSync(path.join(out, "latest.md"), "utf8");
    expect(md).toMatch(/^# wasm-sse benchmark \(quick run\)/);
    expect(md).toContain("| W1 server CPU per event ≤ 1/16 of better-sse's |");
    for (const peer of PEERS) expect(md).toContain(`| ${peer} |`);
    const svg = readFileSync(path.join(out, "ratios.svg"), "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/);
    // One bar per peer other than wasm-sse in each of five socket comparisons, and one for W4.
    expect(svg.match(/<rect x=/g)).toHaveLength(5 * (PEERS.length - 1) + 1);
  }, 180_000);
});
