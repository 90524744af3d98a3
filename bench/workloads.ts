// The socket workloads, W1 to W3, each against one peer server in its own process, driven
// by the client process. Each returns raw measurements; report.ts derives the rates.
import { fileURLToPath } from "node:url";
import { Child } from "./child.js";
import type { Verdict } from "./client/verify.js";
import type { Config } from "./config.js";
import { cpuSeconds, rssBytes } from "./proc.js";
import type { ClientCommand, ClientReply, PeerCommand, PeerReply } from "./protocol.js";

export const PEERS = ["wasm-sse", "better-sse", "hono", "naive", "ceiling"] as const;
export type PeerName = (typeof PEERS)[number];

export type Server = Child<PeerCommand, PeerReply>;
export type Client = Child<ClientCommand, ClientReply>;

/** No case may take longer than this: the run fails instead of hanging. */
const CASE_TIMEOUT_MS = 180_000;
/** Idle connections opened before W3's baseline, so lazily loaded code is already in memory. */
const W3_WARM_CONNECTIONS = 16;

export interface Metered {
  seconds: number;
  serverCpu: number;
  clientCpu: number;
}

export interface W1Result extends Metered {
  events: number;
  bytes: number;
}

export interface W2Result extends Metered {
  subscribers: number;
  events: number;
  deliveries: number;
}

/** A server's memory after a full GC: RSS from /proc, the V8 heap and external memory (wasm memories, buffers) from the server itself. */
export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

export interface W3Result {
  connections: number;
  /** The client's time from the first connect to the last response head. */
  openSeconds: number;
  /** Server CPU seconds over the same open. */
  openCpu: number;
  before: Memory;
  after: Memory;
}

export function startClient(): Client {
  return new Child("client", fileURLToPath(new URL("client/main.ts", import.meta.url)));
}

/** A fresh peer server process; resolves with it and its port once it listens. */
export async function startPeer(name: PeerName, cfg: Config): Promise<Running> {
  const file = fileURLToPath(new URL(`peers/${name}.ts`, import.meta.url));
  const server: Server = new Child(name, file, ["--events", String(Math.max(cfg.w1Events, cfg.verifyEvents, cfg.warmEvents, cfg.w2Events))], ["--expose-gc"]);
  const { port } = await server.next("listening", 30_000);
  return { server, port };
}

/** Starts the clocks: wall time and both processes' CPU from /proc. */
function meter(server: Server, client: Client): () => Metered {
  const s0 = cpuSeconds(server.pid);
  const c0 = cpuSeconds(client.pid);
  const t0 = performance.now();
  return () => ({
    seconds: (performance.now() - t0) / 1000,
    serverCpu: cpuSeconds(server.pid) - s0,
    clientCpu: cpuSeconds(client.pid) - c0,
  });
}

/** One stream checked by eventsource-parser, then untimed warm-up streams (at least one) until they span cfg.warmSeconds. */
export async function verifyStream(port: number, client: Client, cfg: Config): Promise<Verdict> {
  const checked = await client.request({ type: "stream", port, n: cfg.verifyEvents, verify: true }, "streamed", CASE_TIMEOUT_MS);
  const t0 = performance.now();
  do {
    await client.request({ type: "stream", port, n: cfg.warmEvents, verify: false }, "streamed", CASE_TIMEOUT_MS);
  } while (performance.now() - t0 < cfg.warmSeconds * 1000);
  return checked.verdict!;
}

/** A peer server that is up, and the port it listens on. */
export interface Running {
  server: Server;
  port: number;
}

/**
 * W1: one connection, w1Events events as fast as backpressure allows, w1Streams times for
 * every server (each time repeated until it spans cfg.minSeconds); per server, the stream
 * with the median server CPU. The servers take turns stream by stream (each round in another
 * order), so a slow spell of the shared machine falls on all of them alike.
 */
export async function w1(running: readonly Running[], client: Client, cfg: Config): Promise<W1Result[]> {
  const streams: W1Result[][] = running.map(() => []);
  for (let round = 0; round < cfg.w1Streams; round++) {
    for (let k = 0; k < running.length; k++) {
      const i = (k + round) % running.length;
      const { server, port } = running[i]!;
      const stop = meter(server, client);
      const t0 = performance.now();
      let events = 0;
      let bytes = 0;
      do {
        const r = await client.request({ type: "stream", port, n: cfg.w1Events, verify: false }, "streamed", CASE_TIMEOUT_MS);
        events += r.events;
        bytes += r.bytes;
      } while (performance.now() - t0 < cfg.minSeconds * 1000);
      streams[i]!.push({ ...stop(), events, bytes });
    }
  }
  return streams.map((list) => {
    list.sort((a, b) => a.serverCpu / a.events - b.serverCpu / b.events);
    return list[(list.length - 1) >> 1]!;
  });
}

/**
 * W2: w2Subscribers subscribers, w2Events broadcast events, repeated (times and counts adding
 * up) until the broadcasts span cfg.minSeconds; each time, the first subscriber's stream is checked.
 */
export async function w2(server: Server, port: number, client: Client, cfg: Config): Promise<{ result: W2Result; verdict: Verdict }> {
  const first = await w2Once(server, port, client, cfg);
  const { result, verdict } = first;
  while (result.seconds < cfg.minSeconds) {
    const more = await w2Once(server, port, client, cfg);
    result.seconds += more.result.seconds;
    result.serverCpu += more.result.serverCpu;
    result.clientCpu += more.result.clientCpu;
    result.events += more.result.events;
    result.deliveries += more.result.deliveries;
    verdict.failures.push(...more.verdict.failures);
  }
  return first;
}

async function w2Once(server: Server, port: number, client: Client, cfg: Config): Promise<{ result: W2Result; verdict: Verdict }> {
  const conns = cfg.w2Subscribers;
  const n = w2Events(server.name as PeerName, cfg);
  await client.request({ type: "open", port, conns, n, verifyFirst: true }, "opened", CASE_TIMEOUT_MS);
  await subscribersReach(server, conns);
  const stop = meter(server, client);
  server.send({ type: "broadcast", n, burst: cfg.burst });
  const counted = await client.next("counted", CASE_TIMEOUT_MS);
  const m = stop();
  await server.next("broadcast-done", CASE_TIMEOUT_MS);
  await client.request({ type: "close" }, "closed", CASE_TIMEOUT_MS);
  await subscribersReach(server, 0);
  const result = { ...m, subscribers: conns, events: n, deliveries: counted.events };
  return { result, verdict: counted.verdict! };
}

export function w2Events(peer: PeerName, cfg: Config): number {
  return cfg.w2EventsSlow[peer] ?? cfg.w2Events;
}

/**
 * W3: w3Connections idle streams on a fresh server: how fast they open (the client's time to
 * the last response head, and the server's CPU over it), and RSS before and after, each after a full GC.
 */
export async function w3(name: PeerName, client: Client, cfg: Config): Promise<W3Result> {
  const { server, port } = await startPeer(name, cfg);
  try {
    await client.request({ type: "open", port, conns: W3_WARM_CONNECTIONS, n: 0, verifyFirst: false }, "opened", CASE_TIMEOUT_MS);
    await subscribersReach(server, W3_WARM_CONNECTIONS);
    const before = await settledMemory(server);
    const cpu0 = cpuSeconds(server.pid);
    const opened = await client.request({ type: "open", port, conns: cfg.w3Connections, n: 0, verifyFirst: false }, "opened", CASE_TIMEOUT_MS);
    const openCpu = cpuSeconds(server.pid) - cpu0;
    await subscribersReach(server, W3_WARM_CONNECTIONS + cfg.w3Connections);
    const after = await settledMemory(server);
    await client.request({ type: "close" }, "closed", CASE_TIMEOUT_MS);
    return { connections: cfg.w3Connections, openSeconds: opened.seconds, openCpu, before, after };
  } finally {
    await server.stop();
  }
}

async function settledMemory(server: Server): Promise<Memory> {
  await sleep(200);
  const { heapUsed, external } = await server.request({ type: "gc" }, "gc-done", CASE_TIMEOUT_MS);
  await sleep(100);
  return { rss: rssBytes(server.pid), heapUsed, external };
}

/** A server child that counts its subscribers (a peer here, a W6 variant in w6.ts). */
interface Counting {
  readonly name: string;
  request(cmd: { type: "subscribers" }, type: "subscribers", timeoutMs: number): Promise<{ count: number }>;
}

/** Waits until the server counts exactly `n` subscribers. */
export async function subscribersReach(server: Counting, n: number): Promise<void> {
  const deadline = Date.now() + CASE_TIMEOUT_MS;
  for (;;) {
    const { count } = await server.request({ type: "subscribers" }, "subscribers", CASE_TIMEOUT_MS);
    if (count === n) return;
    if (Date.now() > deadline) throw new Error(`${server.name}: ${count} subscribers, want ${n}`);
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
