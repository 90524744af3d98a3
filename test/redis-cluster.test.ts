// Channels shared across real processes (issue #18): several server processes
// (test/support/shared-server.ts), each with one SharedChannel on the same Redis stream, and
// clients on real sockets: raw HTTP streams read with eventsource-parser, the `eventsource`
// package, and headless Chromium's own EventSource. What every client must end with is the
// log itself: each event Redis accepted, once, in Redis's entry id order (read back with
// XRANGE at the end), whichever process served it, however often it was cut off, and when the
// process it was on is killed. Then the demo on node:cluster (examples/demo.ts with REDIS_URL
// and WORKERS=2).
//
// The third process reaches Redis through a proxy that holds its reader's replies 150 ms (a busy
// process): a client that comes to it from another process is ahead of its reader. A process
// that joins later (after the SIGKILL) gets its XRANGE replies 30 ms late, so live events arrive
// while it reads a replay. Both are where a resume could repeat or drop an event.
//
// A client's events are checked as they arrive, cheaply, as there are 3 million of them in the
// first test: a count, ids strictly increasing, and a running hash of (id, event, data), which
// is compared with the hash of what XRANGE holds. A few clients also keep everything, for a
// readable diff and the byte-for-byte comparison across processes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { get, type ClientRequest } from "node:http";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { EventSource, type FetchLike } from "eventsource";
import { createParser } from "eventsource-parser";
import { chromium, type Browser, type Page } from "playwright-core";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compareIds } from "../host/redis/entry-id.js";
import { startRedis, type RedisServer } from "./helpers/redis-server.js";
import { rng } from "./support/wasm.js";
import { roundRobinProxy, type RoundRobinProxy } from "./helpers/round-robin-proxy.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SERVER = join(ROOT, "test/support/shared-server.ts");
const STREAM = "cluster";
const KEY = `wasm-sse:${STREAM}`;

// ---------------------------------------------------------------------------------------------
// Processes: every child is SIGKILLed in afterAll, and on this process's exit; the fixture
// servers also exit when their stdin (a pipe from this process) ends.

const children = new Set<ChildProcess>();
const groups = new Set<number>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
  for (const pgid of groups) killGroup(pgid);
});

// setpriv's parent-death signal (kept across exec) also ends a child if this process is killed
// outright; a cluster's workers exit when their primary's IPC channel closes.
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

/** `node args…` under setpriv --pdeathsig KILL where there is one. */
function nodeCommand(args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", process.execPath, ...args]] : [process.execPath, args];
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

interface Proc {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stderr(): string;
}

async function startServer(redisUrl: string, listenOn = 0): Promise<Proc> {
  const [command, args] = nodeCommand(["--import", "tsx", SERVER]);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redisUrl, STREAM, PORT: String(listenOn) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.add(child);
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = new Promise<void>((resolve) => child.once("exit", () => (children.delete(child), resolve())));
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`shared-server did not report its port within 30 s\n${stderr}`)), 30_000);
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`shared-server exited (${child.exitCode ?? child.signalCode}) before listening\n${stderr}`));
    });
  });
  const { port, pid } = JSON.parse(line) as { port: number; pid: number };
  return { port, pid, url: `http://127.0.0.1:${port}`, child, exited, stderr: () => stderr };
}

interface Stats {
  pid: number;
  size: number;
  lastId: string | undefined;
  opened: number;
  resumes: string[];
}

async function stats(p: Proc): Promise<Stats> {
  return (await (await fetch(`${p.url}/stats`)).json()) as Stats;
}

async function sizes(procs: readonly Proc[]): Promise<number[]> {
  return Promise.all(procs.map(async (p) => (await stats(p)).size));
}

/** Sends the items through `p` (all at once there, so their XADDs are pipelined); their ids, in order. */
async function sendVia(p: Proc, items: Item[]): Promise<string[]> {
  const response = await fetch(`${p.url}/send`, { method: "POST", body: JSON.stringify({ items }) });
  const body = (await response.json()) as { ids?: string[]; error?: string };
  if (response.status !== 200 || body.ids === undefined) throw new Error(`send via ${p.port}: ${response.status} ${body.error}`);
  return body.ids;
}

async function cut(p: Proc): Promise<number> {
  return ((await (await fetch(`${p.url}/cut`, { method: "POST" })).json()) as { cut: number }).cut;
}

/** Every `every` ms until `predicate` holds; rejects after `ms` with `what` (a function: its text is made only then). */
async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number, what: () => string, every = 10): Promise<void> {
  const end = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await sleep(every);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * A TCP proxy to Redis that holds the replies on some connections by `ms`: on the one that
 * sends XREAD (a SharedChannel's reader) with "reader", on the others (XADD, XRANGE) with
 * "commands". A process behind the first reads the log late, as a busy one would: clients
 * that come to it from another process are ahead of its reader. Behind the second, it reads
 * its replays slowly while its reader keeps up: live events arrive while a replay is read.
 */
async function laggingRedis(port: number, ms: number, held: "reader" | "commands"): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ port, host: "127.0.0.1" });
    sockets.add(client).add(upstream);
    let reader = false;
    let queue: Promise<void> = Promise.resolve();
    client.on("data", (chunk: Buffer) => {
      if (chunk.includes("XREAD")) reader = true;
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (reader !== (held === "reader")) return void client.write(chunk);
      // In order: each chunk waits for the one before, and until its own time (no timer once due).
      const due = Date.now() + ms;
      queue = queue
        .then(() => (due > Date.now() ? sleep(due - Date.now()) : undefined))
        .then(() => void (client.destroyed || client.write(chunk)));
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) s.on("error", end).on("close", end);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** One event as sent: its data (a JSON value or text) and its name, which is what a client must see of it. */
interface Item {
  data: unknown;
  event?: string;
}

/** Event k: named JSON objects, multi-line text, text with field-like content, sizes up to a few hundred bytes. */
function item(k: number): Item {
  switch (k % 4) {
    case 0:
      return { data: { k, text: 'é ✓ "quoted" \\ 🙂' }, event: "tick" };
    case 1:
      return { data: `line ${k}\nsecond line ✓\n\nafter a blank line` };
    case 2:
      return { data: `event ${k} ${"x".repeat((k * 37) % 300)}` };
    default:
      return { data: `${k} id: not a field; data: neither ` };
  }
}

/** What an EventSource dispatches for an item: its type and data. */
function seen(i: Item): { event: string; data: string } {
  return { event: i.event ?? "message", data: typeof i.data === "string" ? i.data : JSON.stringify(i.data) };
}

/** Sequence checks as events arrive: count, order, and a 64-bit running hash of (id, event, data). */
class Tally {
  count = 0;
  disorder = 0;
  last = "";
  h1 = 0x811c9dc5;
  h2 = 0x01000193;
  /** Everything, for a few clients. */
  readonly all: string[] | undefined;
  /** `reset` events (the unknownId answer: the client's place was lost), which no test expects. */
  readonly resets: string[] = [];

  constructor(keep = false) {
    this.all = keep ? [] : undefined;
  }

  add(id: string, event: string, data: string): void {
    if (event === "reset") this.resets.push(`${id} ${data}`);
    if (this.last !== "" && !(id !== "" && compareIds(id, this.last) > 0)) this.disorder++;
    this.last = id;
    this.count++;
    this.mix(id);
    this.mix(event);
    this.mix(data);
    this.all?.push(`${id} ${event} ${data}`);
  }

  private mix(s: string): void {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    // A separator no string here holds, so ("ab", "c") and ("a", "bc") differ.
    this.h1 = Math.imul(h1 ^ 0x1f, 0x01000193);
    this.h2 = Math.imul(h2 ^ 0x1f, 0x5bd1e995) ^ (h2 >>> 15);
  }

  /** A readable complaint if this differs from `want` (the log's tally), else undefined. */
  differs(name: string, want: Tally): string | undefined {
    if (this.count === want.count && this.disorder === 0 && this.h1 === want.h1 && this.h2 === want.h2) return undefined;
    return `${name}: ${this.count} events (want ${want.count}), ${this.disorder} out of order or repeated, ${this.h1 === want.h1 && this.h2 === want.h2 ? "same" : "different"} content, last id ${this.last} (want ${want.last})${this.resets.length > 0 ? `, resets: ${this.resets.join("; ")}` : ""}`;
  }
}

/** What Redis holds after `after`, in its order, checked against what was sent: the tally every client must match. */
async function logSince(after: string, sent: Map<string, Item>, keep = false): Promise<{ ids: string[]; tally: Tally }> {
  const raw = (await redisClient.sendCommand(["XRANGE", KEY, after === "0-0" ? "-" : `(${after}`, "+"])) as Array<[string, string[]]>;
  const ids = raw.map(([id]) => String(id));
  const tally = new Tally(keep);
  const unknown = ids.filter((id) => !sent.has(id));
  expect(unknown, "entries in Redis that no send() answered with").toEqual([]);
  expect(ids.length, "entries in Redis vs. ids send() answered with").toBe(sent.size);
  for (const id of ids) {
    const { event, data } = seen(sent.get(id)!);
    tally.add(id, event, data);
  }
  return { ids, tally };
}

async function newestId(): Promise<string> {
  const raw = (await redisClient.sendCommand(["XREVRANGE", KEY, "+", "-", "COUNT", "1"])) as Array<[string, string[]]>;
  return raw.length === 0 ? "0-0" : String(raw[0]![0]);
}

// ---------------------------------------------------------------------------------------------
// Clients.

interface Client {
  readonly name: string;
  readonly tally: Tally;
  close(): void;
}

interface RawClient extends Client {
  readonly bytes: Buffer[];
  /** Set when the stream ended or failed: a raw client does not reconnect. */
  ended(): string | undefined;
  /** The client side's port of its connection, once connected. */
  localPort(): number | undefined;
}

/** A plain HTTP stream read with eventsource-parser; with `keep`, every byte and event are kept too. */
function rawClient(name: string, port: number, o: { keep?: boolean; headers?: Record<string, string>; path?: string } = {}): RawClient {
  const keep = o.keep ?? false;
  const tally = new Tally(keep);
  const bytes: Buffer[] = [];
  let ended: string | undefined;
  const parser = createParser({ onEvent: (e) => tally.add(e.id ?? "", e.event ?? "message", e.data) });
  const decoder = new StringDecoder("utf8");
  const req: ClientRequest = get({ host: "127.0.0.1", port, path: o.path ?? "/events", agent: false, headers: { Accept: "text/event-stream", ...o.headers } }, (res) => {
    if (res.statusCode !== 200) ended = `status ${res.statusCode}`;
    res.on("data", (chunk: Buffer) => {
      if (keep) bytes.push(chunk);
      parser.feed(decoder.write(chunk));
    });
    res.once("end", () => (ended ??= "end"));
    res.once("error", (error) => (ended ??= String(error)));
  });
  req.once("error", (error) => (ended ??= String(error)));
  return { name, tally, bytes, ended: () => ended, localPort: () => req.socket?.localPort, close: () => req.destroy() };
}

interface EsClient extends Client {
  /** The port of each connection it made (its first included). */
  readonly connects: number[];
  /** Each connection: when, where, with which Last-Event-ID, and how it went (for failure messages). */
  readonly journal: string[];
}

/**
 * An `eventsource` client. With `ports`, its fetch takes the next of them on every connect
 * (starting at `start`), so each reconnection goes to a different process; else it connects
 * to `url`. `lastEventId` is sent on its first connect, as if it had been here before.
 */
function esClient(name: string, o: { ports?: () => readonly number[]; start?: number; url?: string; keep?: boolean }): EsClient {
  const tally = new Tally(o.keep);
  const connects: number[] = [];
  const journal: string[] = [];
  const t0 = Date.now();
  let k = o.start ?? 0;
  const fetcher: FetchLike = (url, init) => {
    let target = String(url);
    if (o.ports !== undefined) {
      const list = o.ports();
      const port = list[k++ % list.length]!;
      target = `http://127.0.0.1:${port}/events`;
    }
    connects.push(Number(new URL(target).port));
    const sentId = (init.headers as Record<string, string>)["Last-Event-ID"];
    const at = `+${Date.now() - t0} ms :${new URL(target).port} with ${sentId ?? "no id"} (${tally.count} events so far)`;
    return fetch(target, init as RequestInit).then(
      (response) => (journal.push(`${at}: ${response.status}`), response),
      (error: unknown) => (journal.push(`${at}: ${String(error)}`), Promise.reject(error)),
    );
  };
  const es = new EventSource(o.url ?? "http://127.0.0.1/events", { fetch: fetcher });
  const on = (e: MessageEvent) => tally.add(e.lastEventId, e.type, e.data as string);
  es.addEventListener("message", on);
  es.addEventListener("tick", on);
  es.addEventListener("reset", on);
  return { name, tally, connects, journal, close: () => es.close() };
}

function failures(clients: readonly Client[], want: Tally): string[] {
  return clients
    .map((c) => {
      const wrong = c.tally.differs(c.name, want);
      return wrong === undefined || !("journal" in c) ? wrong : `${wrong}; connections: ${(c as EsClient).journal.slice(-12).join(", ")}`;
    })
    .filter((s): s is string => s !== undefined);
}

async function allReceived(clients: readonly Client[], n: number, ms: number): Promise<void> {
  await waitFor(() => clients.every((c) => c.tally.count >= n), ms, () => {
    const behind = clients.filter((c) => c.tally.count < n);
    return `${behind.length} clients to reach ${n} events (e.g. ${behind.slice(0, 3).map((c) => `${c.name} at ${c.tally.count}`).join(", ")})`;
  }, 20);
}

/**
 * Waits until every client has `n` events or none got one for `quietMs`: then the comparison
 * with the log says what is missing, better than a timeout would.
 */
async function settled(clients: readonly Client[], n: number, ms: number, quietMs = 3000): Promise<void> {
  const total = () => clients.reduce((sum, c) => sum + c.tally.count, 0);
  let last = total();
  let since = Date.now();
  await waitFor(() => {
    const now = total();
    if (now !== last) [last, since] = [now, Date.now()];
    return clients.every((c) => c.tally.count >= n) || Date.now() - since > quietMs;
  }, ms, () => `${clients.length} clients to reach ${n} events`, 20);
}

// ---------------------------------------------------------------------------------------------

let redis: RedisServer;
let redisClient: ReturnType<typeof createClient>;
let servers: Proc[] = [];
const open: Client[] = [];
const cleanupsAfterAll: Array<() => unknown> = [];

beforeAll(async () => {
  redis = await startRedis();
  redisClient = createClient({ url: redis.url });
  redisClient.on("error", () => {});
  await redisClient.connect();
  // The third process reads the log 150 ms late, as a busy one might: a client that comes to it
  // from another process (which its `retry`, 50 ms, allows) is ahead of its reader.
  const late = await laggingRedis(redis.port, 150, "reader");
  cleanupsAfterAll.push(() => late.close());
  servers = await Promise.all([redis.url, redis.url, late.url].map((url) => startServer(url)));
}, 60_000);

afterAll(async () => {
  for (const c of open.splice(0)) c.close();
  for (const child of children) child.kill("SIGKILL");
  await Promise.all(servers.map((s) => s.exited));
  for (const f of cleanupsAfterAll.splice(0)) await f();
  for (const pgid of groups) killGroup(pgid);
  groups.clear();
  await redisClient?.quit().catch(() => {});
  await redis?.stop();
});

/** Opens clients and remembers them: closed after each test. */
function track<C extends Client>(c: C): C {
  open.push(c);
  return c;
}

/** Run after the test (proxies), even when it failed. */
const cleanups: Array<() => unknown> = [];

// A test's clients are gone before the next starts, even when it failed.
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  for (const f of cleanups.splice(0)) await f();
  const live = servers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
  await waitFor(async () => (await sizes(live)).every((n) => n === 0), 10_000, () => "the last test's streams to close", 20);
});

describe("a SharedChannel served by 3 processes", () => {
  it("brings 300 clients every one of 10,000 events sent from random processes, in the log's order, byte-identical across processes", async () => {
    const CLIENTS_PER_PROCESS = 100;
    const ES_PER_PROCESS = 10; // real `eventsource` clients among them; the rest raw streams
    const EVENTS = 10_000;
    const BATCH = 500; // per round: 5 sends of 100, each through a random process
    const WINDOW = 1500; // no client is let fall more than this many events behind the sends
    const seed = Date.now() >>> 0;
    const pick = rng(seed);
    const t0 = Date.now();

    const start = await newestId();
    const clients: Client[] = [];
    const reference: RawClient[] = [];
    for (const [p, server] of servers.entries()) {
      for (let i = 0; i < CLIENTS_PER_PROCESS; i++) {
        const name = `p${p}#${i}`;
        if (i < ES_PER_PROCESS) clients.push(track(esClient(`${name} (eventsource)`, { url: `${server.url}/events` })));
        else {
          const raw = track(rawClient(name, server.port, { keep: i === ES_PER_PROCESS }));
          if (i === ES_PER_PROCESS) reference.push(raw);
          clients.push(raw);
        }
      }
    }
    const raws = clients.filter((c): c is RawClient => "ended" in c);
    await waitFor(async () => (await sizes(servers)).every((n) => n === CLIENTS_PER_PROCESS), 20_000, () => `${CLIENTS_PER_PROCESS} subscribers on each process`, 50);
    const connected = Date.now();

    const sent = new Map<string, Item>();
    for (let k = 0; k < EVENTS; k += BATCH) {
      await allReceived(clients, k - WINDOW, 30_000);
      const rounds = [];
      for (let j = k; j < k + BATCH; j += 100) {
        const items = Array.from({ length: 100 }, (_, i) => item(j + i));
        const via = servers[Math.floor(pick() * servers.length)]!;
        rounds.push(sendVia(via, items).then((ids) => ids.forEach((id, i) => sent.set(id, items[i]!))));
      }
      await Promise.all(rounds);
    }
    const allSent = Date.now();
    await settled(clients, EVENTS, 60_000);
    const done = Date.now();

    const log = await logSince(start, sent, true);
    expect(log.ids).toHaveLength(EVENTS);
    expect(raws.map((c) => c.ended()).filter((e) => e !== undefined), "raw streams that ended").toEqual([]);
    // Three complete sequences, readable on failure; then every client against the log.
    for (const r of reference) expect(r.tally.all).toEqual(log.tally.all);
    expect(failures(clients, log.tally)).toEqual([]);

    // The same bytes from every process: its retry, then the events, framed by each process's own core.
    const streams = reference.map((r) => Buffer.concat(r.bytes));
    const retry = Buffer.from("retry: 50\n\n");
    for (const s of streams) expect(s.subarray(0, retry.length).equals(retry)).toBe(true);
    const frames = streams.map((s) => s.subarray(retry.length));
    expect(frames[0]!.length).toBeGreaterThan(EVENTS * 20);
    for (const f of frames.slice(1)) expect(f.equals(frames[0]!), "event bytes differ between processes").toBe(true);

    for (const c of clients) c.close();
    console.log(
      `cluster fan-out: ${clients.length} clients (${ES_PER_PROCESS * servers.length} eventsource) on ${servers.length} processes, ${EVENTS} events ` +
        `(${frames[0]!.length} bytes per client) sent in rounds of ${BATCH} through random processes (seed ${seed}): ` +
        `connected in ${connected - t0} ms, sent in ${allSent - connected} ms, all delivered ${done - connected} ms after the first send ` +
        `(${Math.round((EVENTS * clients.length) / ((done - connected) / 1000))} deliveries/s)`,
    );
  });

  it("resumes `eventsource` clients cut off mid-stream on a different process each time: no gap, no duplicate", async () => {
    const CLIENTS = 30;
    const EVENTS = 3000;
    const CUTS = 5;
    const pick = rng(Date.now() >>> 0);
    const start = await newestId();
    const before = await Promise.all(servers.map(stats));
    const ports = servers.map((s) => s.port);
    const clients = Array.from({ length: CLIENTS }, (_, i) => track(esClient(`es#${i}`, { ports: () => ports, start: i })));
    await waitFor(async () => (await sizes(servers)).reduce((a, b) => a + b) === CLIENTS, 20_000, () => `${CLIENTS} subscribers`, 50);

    const sent = new Map<string, Item>();
    const send = async (k: number, n: number) => {
      const items = Array.from({ length: n }, (_, i) => item(k + i));
      const ids = await sendVia(servers[Math.floor(pick() * servers.length)]!, items);
      ids.forEach((id, i) => sent.set(id, items[i]!));
    };
    // Every client holds an id before the first cut: without one it could not resume.
    await send(0, 100);
    await allReceived(clients, 100, 10_000);
    let cuts = 0;
    let cutStreams = 0;
    for (let k = 100; k < EVENTS; k += 100) {
      await send(k, 100);
      if (k % 500 === 0 && cuts < CUTS) {
        // Cut while the last sends are still on their way to the clients.
        cuts++;
        cutStreams += (await Promise.all(servers.map(cut))).reduce((a, b) => a + b);
      }
      await sleep(15);
    }
    await settled(clients, EVENTS, 30_000);
    const log = await logSince(start, sent);
    expect(failures(clients, log.tally)).toEqual([]);

    // Each cut made every client come back, each time to the next process of its rotation.
    for (const c of clients) {
      expect(c.connects.length, c.name).toBeGreaterThanOrEqual(CUTS + 1);
      for (let i = 1; i < c.connects.length; i++) expect(c.connects[i], c.name).not.toBe(c.connects[i - 1]);
      c.close();
    }
    const after = await Promise.all(servers.map(stats));
    const resumes = after.map((s, i) => s.resumes.length - before[i]!.resumes.length);
    expect(cutStreams).toBeGreaterThanOrEqual(CUTS * CLIENTS * 0.9);
    for (const r of resumes) expect(r).toBeGreaterThan(0);
    expect(resumes.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(cutStreams);
    console.log(`cut and resumed: ${CLIENTS} eventsource clients, ${EVENTS} events, ${cuts} cuts of every stream (${cutStreams} streams cut), resumes per process ${resumes.join("/")}, 0 lost, 0 duplicated`);
  });

  describe("headless Chromium through a round-robin proxy", () => {
    let browser: Browser | undefined;
    let proxy: RoundRobinProxy | undefined;
    let page: Page | undefined;
    afterEach(async () => {
      await page?.close();
      page = undefined;
    });
    afterAll(async () => {
      await browser?.close();
      await proxy?.close();
    });

    it("resumes the page's own EventSource on another process after every proxy cut", async () => {
      browser = await chromium.launch({
        executablePath: "/usr/bin/chromium",
        args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      proxy = await roundRobinProxy(servers.map((s) => s.port));
      const start = await newestId();
      const before = await Promise.all(servers.map(stats));
      page = await browser.newPage();
      await page.goto(proxy.url);
      await waitFor(async () => (await sizes(servers)).reduce((a, b) => a + b) === 1, 10_000, () => "the page's stream", 20);
      const got = () => page!.evaluate(() => (window as unknown as { got: string[] }).got.length);

      const pick = rng(Date.now() >>> 0);
      const sent = new Map<string, Item>();
      const send = async (k: number, n: number) => {
        const items = Array.from({ length: n }, (_, i) => item(k + i));
        const ids = await sendVia(servers[Math.floor(pick() * servers.length)]!, items);
        ids.forEach((id, i) => sent.set(id, items[i]!));
      };
      const EVENTS = 1000;
      const CUTS = 4;
      await send(0, 50);
      await waitFor(async () => (await got()) >= 50, 10_000, () => "the first events on the page", 20);
      let cuts = 0;
      for (let k = 50; k < EVENTS; k += 50) {
        await send(k, 50);
        if (k % 200 === 0 && cuts < CUTS) {
          // Once the page is back from the last cut (it waits `retry`, 50 ms, to reconnect).
          await waitFor(async () => (await sizes(servers)).reduce((a, b) => a + b) === 1, 10_000, () => "the page's stream", 10);
          cuts++;
          expect(proxy.cutAll()).toBeGreaterThanOrEqual(1);
        }
        await sleep(20);
      }
      // Until the page has them all, or nothing came for 3 s (then the comparison says what is missing).
      let [count, since] = [0, Date.now()];
      await waitFor(async () => {
        const now = await got();
        if (now !== count) [count, since] = [now, Date.now()];
        return now >= EVENTS || Date.now() - since > 3000;
      }, 20_000, () => `${EVENTS} events on the page`, 50);
      await sleep(200); // nothing more may come
      const log = await logSince(start, sent, true);
      const received = await page.evaluate(() => (window as unknown as { got: string[] }).got);
      expect(log.ids).toHaveLength(EVENTS);
      expect(received).toEqual(log.tally.all);

      const after = await Promise.all(servers.map(stats));
      const resumes = after.map((s, i) => s.resumes.length - before[i]!.resumes.length);
      // The page came back once per cut, each time to the next process of the rotation.
      expect(resumes.reduce((a, b) => a + b)).toBe(CUTS);
      expect(resumes.filter((r) => r > 0).length).toBeGreaterThanOrEqual(2);
      console.log(`chromium via round-robin proxy: ${received.length} events, ${CUTS} cuts, resumes per process ${resumes.join("/")}, 0 lost, 0 duplicated`);
    });
  });

  // Last in this file: it kills one of the three servers.
  it("resumes the clients of a process killed with SIGKILL mid-stream on the others, and on a fresh one from Redis", async () => {
    const [victim, ...survivors] = servers as [Proc, Proc, Proc];
    const CLIENTS = 20;
    const LATE = 20;
    const EVENTS = 3000;
    const start = await newestId();
    // Two groups: one rotates over the three ports (the dead one refuses, the next accepts);
    // the other comes through a proxy, which after the kill sends everyone to a process that
    // is only starting: they come back to it after missing events it never read.
    const ports = servers.map((s) => s.port);
    const proxy = await roundRobinProxy(ports);
    cleanups.push(() => proxy.close());
    // The process that joins later reaches Redis through this: its replays take 30 ms to read.
    const lagging = await laggingRedis(redis.port, 30, "commands");
    cleanups.push(() => lagging.close());
    const rotating = Array.from({ length: CLIENTS }, (_, i) => track(esClient(`rotating#${i}`, { ports: () => ports, start: i })));
    const proxied = Array.from({ length: CLIENTS }, (_, i) => track(esClient(`proxied#${i}`, { url: `${proxy.url}/events` })));
    const clients: EsClient[] = [...rotating, ...proxied];
    await waitFor(async () => (await sizes(servers)).reduce((a, b) => a + b) === 2 * CLIENTS, 20_000, () => `${2 * CLIENTS} subscribers`, 50);

    const pick = rng(Date.now() >>> 0);
    const sent = new Map<string, Item>();
    let senders: Proc[] = [...servers];
    const send = async (k: number, n: number) => {
      const items = Array.from({ length: n }, (_, i) => item(k + i));
      const ids = await sendVia(senders[Math.floor(pick() * senders.length)]!, items);
      ids.forEach((id, i) => sent.set(id, items[i]!));
    };
    await send(0, 100);
    await allReceived(clients, 100, 10_000);

    let onVictim = 0;
    let starting: Promise<Proc> | undefined;
    let fresh: Proc | undefined;
    const late: Array<{ client: RawClient; from: string }> = [];
    let missed = 0;
    let upAt = 0;
    for (let k = 100; k < EVENTS; k += 100) {
      if (k === 1700) {
        // Clients gone since before the fresh process started (after events 1101 to 1196; 600
        // and more followed, at most 900 with the trickle: within replayLimit) resume there all
        // at once, while events trickle in through three concurrent senders: only Redis holds
        // their place, and the fresh process's reader reads on while their replays are read
        // (the events it holds for them meanwhile).
        const sorted = [...sent.keys()].sort(compareIds);
        let opening = true;
        let trickled = 0;
        const trickle = async (via: Proc) => {
          while (opening && trickled < 200) {
            const items = Array.from({ length: 2 }, (_, i) => item(k + trickled + i));
            trickled += 2;
            const ids = await sendVia(via, items);
            ids.forEach((id, i) => sent.set(id, items[i]!));
          }
        };
        const trickling = Promise.all([...survivors, fresh!].map(trickle));
        await sleep(5);
        for (let i = 0; i < LATE; i++) {
          const from = sorted[1100 + i * 5]!;
          late.push({ from, client: track(rawClient(`late#${i} (after ${from}, on the fresh process)`, fresh!.port, { keep: true, headers: { "Last-Event-ID": from } })) });
        }
        // Until all have their replay: their reads from Redis overlap (one long reply).
        await waitFor(() => late.every((l) => l.client.tally.count > 0) || trickled >= 200, 10_000, () => "the late clients' replays", 1);
        opening = false;
        await trickling;
      } else await send(k, 100);
      if (k === 1000) {
        // Everyone is here (so a client's place, when it comes back, is at most a few hundred
        // events old: within replayLimit). No send is on its way through the victim (sends are
        // awaited): what it answered is in the log. It is killed as more events are sent.
        await allReceived(clients, sent.size, 10_000);
        senders = [...survivors];
        onVictim = (await stats(victim)).size;
        const inFlight = send(k + 100, 100);
        victim.child.kill("SIGKILL");
        await inFlight;
        const freshPort = await freePort();
        proxy.setBackends([freshPort]);
        proxy.cutAll();
        starting = startServer(lagging.url, freshPort);
      }
      if (k === 1500) {
        // Events went on meanwhile; the proxied clients wait for the fresh process.
        fresh = await starting!;
        servers.push(fresh);
        missed = proxied.filter((c) => c.tally.count <= 1200).length;
        upAt = sent.size;
        senders.push(fresh);
      }
      if (k === 1600) {
        // Once the proxied clients are back (a replay read through the lagging link takes a
        // while), everyone moves once more, the rotating clients to the next live process.
        await allReceived(proxied, upAt, 10_000);
        for (const s of [...survivors, fresh!]) await cut(s);
      }
      await sleep(15);
    }
    await victim.exited;
    await settled(clients, sent.size, 30_000); // the trickle sent a few more than EVENTS
    const log = await logSince(start, sent);
    expect(failures(clients, log.tally)).toEqual([]);
    expect(onVictim, "clients on the killed process").toBeGreaterThan(0);
    expect(missed, "proxied clients that were still away when the fresh process came up").toBeGreaterThan(CLIENTS / 2);

    // The late clients: exactly what followed their Last-Event-ID, then the live events.
    for (const { from, client } of late) {
      const after = log.ids.slice(log.ids.indexOf(from) + 1);
      await settled([client], after.length, 20_000);
      const want = await logSince(from, new Map(after.map((id) => [id, sent.get(id)!])), true);
      expect(client.tally.all, client.name).toEqual(want.tally.all);
      expect(client.ended(), client.name).toBeUndefined();
    }

    // Every proxied client resumed on the fresh process (Last-Event-IDs from before it read
    // anything, so from Redis), as did the late ones.
    const freshStats = await stats(fresh!);
    expect(freshStats.resumes.length).toBeGreaterThanOrEqual(CLIENTS + LATE);
    for (const { from } of late) expect(freshStats.resumes).toContain(from);
    for (const c of proxied) expect(c.connects.length, c.name).toBeGreaterThanOrEqual(3);
    for (const c of rotating) expect(c.connects.length, c.name).toBeGreaterThanOrEqual(2);
    console.log(
      `SIGKILL: ${clients.length} eventsource clients (${CLIENTS} rotating ports, ${CLIENTS} through the proxy), ${onVictim} of them on the killed process, ` +
        `${sent.size} events; ${missed} proxied clients away until the fresh process was up, ${LATE} late raw clients, ${freshStats.resumes.length} resumes there; 0 lost, 0 duplicated`,
    );
  });
});

describe("the demo on node:cluster (REDIS_URL, WORKERS=2)", () => {
  it("brings a chat line to every client with one id on both workers, and resumes a client from its predecessor", async () => {
    const port = await freePort();
    const [command, args] = nodeCommand(["--import", "tsx", join(ROOT, "examples/demo.ts")]);
    const demo = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redis.url, WORKERS: "2", PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: the primary and its workers are killed together
    });
    groups.add(demo.pid!);
    let output = "";
    demo.stdout!.setEncoding("utf8").on("data", (s: string) => (output += s));
    demo.stderr!.setEncoding("utf8").on("data", (s: string) => (output += s));
    const exited = new Promise<void>((resolve) => demo.once("exit", () => resolve()));
    try {
      await waitFor(() => (output.match(/worker \d+ serving/g) ?? []).length === 2 || demo.exitCode !== null, 30_000, () => `two workers serving\n${output}`, 50);
      const workers = [...output.matchAll(/worker (\d+) serving/g)].map((m) => Number(m[1]));
      expect(workers, output).toHaveLength(2);
      const url = `http://127.0.0.1:${port}/broadcast`;

      // Four streams: the primary hands connections to its workers in turn.
      const sources = Array.from({ length: 4 }, (_, i) => {
        const events: Array<{ type: string; id: string; data: string }> = [];
        const es = new EventSource(url);
        for (const type of ["chat", "clock"]) es.addEventListener(type, (e: MessageEvent) => events.push({ type, id: e.lastEventId, data: e.data as string }));
        open.push({ name: `demo#${i}`, tally: new Tally(), close: () => es.close() });
        return { es, events };
      });
      // A clock tick (from the primary, through Redis) shows a stream is subscribed.
      await waitFor(() => sources.every((s) => s.events.some((e) => e.type === "clock")), 10_000, () => "a clock tick on every stream", 20);
      expect(new Set(servedBy(port).values())).toEqual(new Set(workers));

      const say = async (text: string) => {
        const response = await fetch(url, { method: "POST", body: JSON.stringify({ text }) });
        expect(response.status).toBe(200);
        return ((await response.json()) as { id: string }).id;
      };
      const first = await say("first line");
      const second = await say(`hello from the test ${Date.now()}`);
      expect(compareIds(second, first)).toBeGreaterThan(0);
      const chats = () => sources.map((s) => s.events.filter((e) => e.type === "chat"));
      await waitFor(() => chats().every((c) => c.length >= 2), 10_000, () => "both chat lines on every stream", 20);
      const line = chats()[0]![1]!;
      expect(line.id).toBe(second);
      for (const c of chats()) expect(c).toEqual(chats()[0]);
      expect(JSON.parse(line.data)).toMatchObject({ text: expect.stringMatching(/^hello from the test/) });

      // The predecessor in the log is the first line: a client that saw it resumes with the second, on either worker.
      const predecessor = (await redisClient.sendCommand(["XREVRANGE", "wasm-sse:demo", `(${second}`, "-", "COUNT", "1"])) as Array<[string, string[]]>;
      expect(String(predecessor[0]![0])).toBe(first);
      // Four more streams, each with the first line's id as its Last-Event-ID (served by both workers in turn).
      const resumed = Array.from({ length: 4 }, (_, i) =>
        track(rawClient(`demo resumed#${i}`, port, { keep: true, path: "/broadcast?topics=chat", headers: { "Last-Event-ID": first } })),
      );
      await waitFor(() => resumed.every((r) => r.tally.count >= 1), 10_000, () => "the second line on every resumed stream", 20);
      for (const r of resumed) expect(r.tally.all![0]).toBe(`${second} chat ${line.data}`);
      const pids = servedBy(port);
      expect(new Set(resumed.map((r) => pids.get(r.localPort()!)))).toEqual(new Set(workers));
      await sleep(100);
      for (const r of resumed) {
        expect(r.tally.count, "only the line after its Last-Event-ID").toBe(1);
        expect(r.ended()).toBeUndefined();
        r.close();
      }
      for (const s of sources) s.es.close();
      console.log(`demo cluster: workers ${workers.join(", ")}; chat ${second} on ${sources.length} streams; ${resumed.length} streams resumed after ${first} on both workers`);
    } finally {
      killGroup(demo.pid!);
      groups.delete(demo.pid!);
      await exited;
    }
  });
});

/** The pid of the process holding each established connection to `port`, by the client's port (ss -tnp). */
function servedBy(port: number): Map<number, number> {
  const out = spawnSync("ss", ["-Htnp", "state", "established", `( sport = :${port} )`], { encoding: "utf8" }).stdout;
  return new Map([...out.matchAll(/127\.0\.0\.1:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]));
}
