// sseResponse on Cloudflare Workers' runtime, for real: test/workerd/worker.ts (a Hono app on
// the workerd entry, host/web/workerd.ts) is bundled with esbuild, the core kept as a separate
// wasm module, and served by `workerd serve` from a Cap'n Proto config, once per compatibility
// date: 2025-01-01 (no import.meta.url, no setImmediate, no process) and the newest this
// workerd supports. Read by the `eventsource` client and by fetch: the bytes must be those the
// same handlers frame under Node; a client that goes cancels its handler; keep-alives flow, also
// after the request whose code armed the pool's timer is over, and none come between events in
// time after a broadcast from a request that is over; a Channel made in the global scope
// broadcasts across requests and replays from Last-Event-ID. workerd serve runs one isolate, so
// the worker's module scope (what handlers saw, GET /state) is shared by every request.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { build } from "esbuild";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sseResponse } from "../host/web/index.js";
import type { Sse } from "../host/common/sse.js";
import { reader, until, type Reader } from "./helpers/events.js";
import { counter, fields } from "./workerd/handlers.js";

const WORKERD = resolve("node_modules/.bin/workerd");
/** `workerd --version` prints the newest compatibility date it supports. */
const NEWEST = /\d{4}-\d{2}-\d{2}/.exec(execFileSync(WORKERD, ["--version"], { timeout: 10_000 }).toString())![0];
const DATES = [...new Set(["2025-01-01", NEWEST])];
const ACCEPT = { accept: "text/event-stream" };

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "wasm-sse-workerd-"));
  // The core stays a module of its own: workerd compiles it from the config, never from bytes.
  const result = await build({
    entryPoints: ["test/workerd/worker.ts"],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    outfile: join(dir, "worker.js"),
    metafile: true,
    logLevel: "silent",
    plugins: [
      {
        name: "core-module",
        setup(b) {
          b.onResolve({ filter: /\/build\/sse\.wasm$/ }, () => ({ path: "./sse.wasm", external: true }));
        },
      },
    ],
  });
  copyFileSync("build/sse.wasm", join(dir, "sse.wasm"));
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => `${i.path}${i.external ? " (external)" : ""}`));
  expect(imports).toEqual(["./sse.wasm (external)"]);
});

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface Workerd {
  readonly url: string;
  /** What workerd wrote to stdout and stderr so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Serves the bundle under `date`; resolves once workerd reports its socket's port (fd 3). */
async function startWorkerd(date: string): Promise<Workerd> {
  const config = join(dir, `config-${date}.capnp`);
  writeFileSync(
    config,
    `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "sse.wasm", wasm = embed "sse.wasm"),
  ],
  compatibilityDate = "${date}",
);
`,
  );
  const child: ChildProcess = spawn(WORKERD, ["serve", config, "--verbose", "--control-fd", "3"], { stdio: ["ignore", "pipe", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d));
  child.stderr!.on("data", (d: Buffer) => (log += d));
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`workerd did not listen within 20 s:\n${log}`)), 20_000);
      child.once("exit", (code, signal) => reject(new Error(`workerd exited (${code ?? signal}) before listening:\n${log}`)));
      let control = "";
      (child.stdio[3] as Readable).on("data", (d: Buffer) => {
        control += d;
        for (const line of control.split("\n").slice(0, -1)) {
          const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
          if (message.event === "listen" && message.socket === "http" && message.port !== undefined) {
            clearTimeout(timer);
            resolvePort(message.port);
          }
        }
      });
    });
    return { url: `http://127.0.0.1:${port}`, log: () => log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What sseResponse frames under Node (this process) for the same handler, and its headers. */
async function onNode(handler: (sse: Sse) => Promise<void>): Promise<{ text: string; headers: Headers }> {
  const response = sseResponse(new Request("http://node.test/", { headers: ACCEPT }), handler);
  return { text: await response.text(), headers: response.headers };
}

/** A stream read with fetch until `close()` (which disconnects) or its end. */
function open(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const stream: Reader = reader();
  let ended = false;
  const done = (async () => {
    const response = await fetch(url, { headers: { ...ACCEPT, ...headers }, signal: controller.signal });
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
  })()
    .catch(() => {})
    .finally(() => (ended = true));
  return { stream, ended: () => ended, close: () => controller.abort(), done };
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

interface Seen {
  cancelled: string[];
  finished: string[];
  aborted: string[];
  errors: string[];
}

describe.each(DATES)("sseResponse on workerd, compatibility date %s", (date) => {
  let workerd: Workerd;
  let url: string;
  let seen: Seen = { cancelled: [], finished: [], aborted: [], errors: [] };
  /** Polls the worker's record of its handlers until `predicate` holds (bounded). */
  const seenUntil = async (predicate: (s: Seen) => boolean, what: string) => {
    const end = Date.now() + 5000;
    while (!predicate((seen = await getJson<Seen>(`${url}/state`)))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  /** Broadcasts on the worker's channel. */
  const post = (body: unknown) => getJson<{ subscribers: number; lastId: string }>(`${url}/news`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  /** Waits until the channel has `n` subscribers (bounded). */
  const newsSize = async (n: number) => {
    const end = Date.now() + 5000;
    let size: number;
    while ((size = (await getJson<{ subscribers: number }>(`${url}/news/size`)).subscribers) !== n) {
      if (Date.now() > end) throw new Error(`the channel has ${size} subscribers, not ${n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    workerd = await startWorkerd(date);
    url = workerd.url;
  });

  afterAll(async () => {
    await workerd?.stop();
  });

  it("serves the README's counter to the eventsource client: ten {counter} events, then `comment: end`", async () => {
    const es = new EventSource(`${url}/counter?sleep=5`);
    const got: Array<{ type: string; data: string }> = [];
    es.addEventListener("message", (e) => got.push({ type: e.type, data: e.data }));
    es.addEventListener("comment", (e) => {
      got.push({ type: e.type, data: e.data });
      es.close(); // the stream ends after it; EventSource would reconnect
    });
    try {
      await until(() => got.length === 11, 10_000, "the counter's eleven events");
    } finally {
      es.close();
    }
    expect(got).toEqual([...Array.from({ length: 10 }, (_, i) => ({ type: "message", data: JSON.stringify({ counter: i }) })), { type: "comment", data: "end" }]);
  });

  it("sends the counter's bytes exactly as sseResponse frames them on Node, with the same headers", async () => {
    const response = await fetch(`${url}/counter?sleep=5`, { headers: ACCEPT, signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const node = await onNode((sse) => counter(sse, 5));
    expect(text).toBe(node.text);
    expect(text).toContain('data: {"counter":9}\n\nevent: comment\ndata: end\n\n');
    expect(response.status).toBe(200);
    for (const name of ["content-type", "cache-control", "x-accel-buffering"]) expect(response.headers.get(name), name).toBe(node.headers.get(name));
  });

  it("frames a named event, ids, a retry, a comment, bytes and JSON records byte for byte as on Node", async () => {
    const response = await fetch(`${url}/fields`, { headers: ACCEPT, signal: AbortSignal.timeout(10_000) });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const node = await onNode(fields);
    expect(new TextDecoder().decode(bytes)).toBe(node.text);
    expect(Buffer.from(bytes).equals(Buffer.from(node.text))).toBe(true);
    expect(node.text).toContain("event: record\nid: r-2\nretry: 2500\ndata: {");
  });

  it("cancels a handler when its client disconnects mid-stream (CancelledError, finally, signal), and other streams go on", async () => {
    const a = open(`${url}/hold/a?every=10`);
    const b = open(`${url}/hold/b?every=10`);
    try {
      await until(() => a.stream.events().length >= 3 && b.stream.events().length >= 3, 5000, "both streams' first events");
      a.close();
      await seenUntil((s) => s.finished.includes("a"), "a's finally");
      expect(seen.cancelled).toContain("a"); // its pending sleep or send rejected with CancelledError
      expect(seen.aborted).toContain("a"); // sse.signal aborted with a CancelledError
      expect(seen.finished).not.toContain("b");
      // The other request's stream is untouched: its flushes never waited on a's request.
      const before = b.stream.events().length;
      await until(() => b.stream.events().length >= before + 10, 5000, "b's events after a went");
      expect(b.stream.events().map((e) => JSON.parse(e.data) as { tag: string; i: number })).toEqual(Array.from({ length: b.stream.events().length }, (_, i) => ({ tag: "b", i })));
      b.close();
      await seenUntil((s) => s.finished.includes("b"), "b's finally");
      expect(seen.cancelled).toEqual(["a", "b"]);
      expect(seen.aborted).toEqual(["a", "b"]);
      expect(seen.errors).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });

  it("sends `:` keep-alives to an idle stream", async () => {
    const idle = open(`${url}/ticks?keepAlive=100&count=1&tail=60000`);
    try {
      await until(() => idle.stream.comments().length >= 4, 5000, "four keep-alives");
      expect(idle.stream.events().map((e) => e.data)).toEqual(['{"tick":0}']);
      expect(idle.stream.comments().every((c) => c === "")).toBe(true);
    } finally {
      idle.close();
    }
  });

  it("keeps sending keep-alives after the request whose code armed the pool's timer is over", async () => {
    // A fresh pool (its own keepAliveMs): a opens first, so the pool's one keep-alive timer is
    // set from a's request; a then ends, and workerd drops that request's timers.
    const a = open(`${url}/ticks?keepAlive=120&count=1&tail=300`);
    try {
      await until(() => a.stream.events().length === 1, 5000, "a's event");
      const b = open(`${url}/ticks?keepAlive=120&count=1&tail=60000`);
      try {
        await until(() => a.ended(), 5000, "a's end");
        const after = b.stream.comments().length;
        await until(() => b.stream.comments().length >= after + 4, 5000, "b's keep-alives after a ended");
      } finally {
        b.close();
      }
    } finally {
      a.close();
    }
  });

  it("sends no keep-alive between events that come in time, after a broadcast made by a request that is over", async () => {
    // The pool reads the clock once per turn and forgets it at the turn's end. A broadcast
    // touches its subscribers' keep-alives from the request that sent it (a POST, over at once):
    // that request's end-of-turn work never runs, and the clock must not stay stale for the
    // streams on the same engine (keepAliveMs 300: a pool of their own).
    const subscriber = open(`${url}/news?keepAlive=300`);
    try {
      await until(() => subscriber.stream.items.length > 0, 5000, "the subscriber's retry field");
      await post({ data: "tick" });
      await until(() => subscriber.stream.events().length === 1, 5000, "the broadcast");
    } finally {
      subscriber.close();
    }
    await new Promise((r) => setTimeout(r, 500)); // a stale clock would now make every deadline due
    const busy = open(`${url}/ticks?keepAlive=300&count=20&every=40`);
    await Promise.race([busy.done, new Promise((r) => setTimeout(r, 10_000))]);
    expect(busy.ended()).toBe(true);
    expect(busy.stream.events().length).toBe(20);
    expect(busy.stream.comments()).toEqual([]);
    await newsSize(0);
  });

  it("broadcasts a Channel's events to subscribers of other requests, replays what a client missed from Last-Event-ID, and drops subscribers whose clients went at their next keep-alive", async () => {
    const s1 = open(`${url}/news?keepAlive=200`);
    const s2 = open(`${url}/news?keepAlive=200`);
    const streams = [s1, s2];
    try {
      await until(() => s1.stream.items.length > 0 && s2.stream.items.length > 0, 5000, "the retry field both subscribers get");
      await newsSize(2);
      // The subscribers' handlers only await sse.closed: their requests stay alive meanwhile.
      await new Promise((r) => setTimeout(r, 200));
      const first = await post({ data: { n: 1 } });
      const second = await post({ data: "two", event: "e" });
      expect([first.subscribers, second.subscribers]).toEqual([2, 2]);
      await until(() => s1.stream.events().length === 2 && s2.stream.events().length === 2, 5000, "both broadcasts at both subscribers");
      for (const s of [s1, s2]) {
        expect(s.stream.items).toEqual([
          { kind: "retry", ms: 1000 },
          { kind: "event", event: "message", data: '{"n":1}', id: first.lastId },
          { kind: "event", event: "e", data: "two", id: second.lastId },
        ]);
      }
      const s3 = open(`${url}/news?keepAlive=200`, { "last-event-id": first.lastId });
      streams.push(s3);
      await until(() => s3.stream.events().length === 1, 5000, "the replay");
      expect(s3.stream.items).toEqual([
        { kind: "retry", ms: 1000 },
        { kind: "event", event: "e", data: "two", id: second.lastId },
      ]);
      // workerd notices a client gone only when it next writes to it: here a keep-alive.
      for (const s of streams) s.close();
      await newsSize(0);
    } finally {
      for (const s of streams) s.close();
    }
  });

  it("logged no uncaught error, hang or cross-request I/O", async () => {
    await new Promise((r) => setTimeout(r, 100));
    expect((await getJson<Seen>(`${url}/state`)).errors).toEqual([]);
    expect(workerd.log()).not.toMatch(/uncaught|hung|different request|Cannot perform I\/O|error/i);
  });
});
