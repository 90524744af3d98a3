// The demo server `npm start` runs: no configuration, http://127.0.0.1:8080 (or PORT).
//   /            a page that shows both streams below live, with EventSource
//   /counter     the seed's counter with ids; the browser reconnects after the end and the
//                counter resumes after its Last-Event-ID
//   /broadcast   one Channel for every page: a "clock" event each second and "chat" events;
//                ?topics=chat,clock picks event types (a per-subscriber filter);
//                POST {"text": "..."} says something to everyone. Chat is kept in the
//                channel's history: a page that reconnects gets the messages it missed
//                (clock ticks are not kept: record: false)
//   /metrics     both listeners' and the channel's stats in Prometheus' text format
//   /stats       the same figures live, for the page's chart: a `stats` event every statsMs
//                (DemoStats below), sampled from the listeners' and the channel's stats()
//                while someone watches. Its own listener and channel, so the watchers are not
//                in the figures (nor in /metrics)
// With REDIS_URL the broadcast is a SharedChannel on Redis and WORKERS=N processes serve it
// (demo-cluster.ts): two tabs served by different workers see the same chat and clock.
// A page holds three streams (counter, broadcast, stats): browsers allow six HTTP/1.1
// connections per host, so two tabs fit, and more streams per page would starve the second
// (HTTP/2 lifts that limit).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { Channel, PROMETHEUS_CONTENT_TYPE, prometheusText, withSse, type SseListener } from "../host/index.js";
import type { SharedChannel } from "../host/redis/index.js";
import { page } from "./demo-page.js";

export interface DemoOptions {
  /** Between counter events (default 1000). */
  intervalMs?: number;
  /** Between clock broadcasts (default 1000). */
  clockMs?: number;
  /** The reconnection delay the counter asks browsers for (default 1000). */
  retryMs?: number;
  /** The broadcast channel (default: an in-process Channel with a history of 100 events). */
  broadcast?: Channel | SharedChannel;
  /** Whether this server sends the clock (default true; a cluster's primary sends it for all workers). */
  clock?: boolean;
  /** Between /stats events (default 1000). */
  statsMs?: number;
}

/**
 * One /stats event: the counter's and the broadcast's streams together (their listeners'
 * stats(), and the channel's for what it fans out). Rates are over the interval since the
 * previous event; cuts, resumes and resets are totals since the server started.
 */
export interface DemoStats {
  /** When it was sampled (ISO 8601), read just before the snapshots. */
  at: string;
  /** Streams open now. */
  open: number;
  /** Events (the counter's sends plus the channel's deliveries, live and replayed) and bytes written to clients, per second. */
  eventsPerSec: number;
  bytesPerSec: number;
  /** Streams cut for a client too slow (ended buffer_full) or stalled. */
  cuts: number;
  /** Subscribers the channel resumed after their Last-Event-ID. */
  resumes: number;
  /** Subscribers whose Last-Event-ID it could not resume, sent a `reset` event. */
  resets: number;
  /** What the rates are made of: the interval (ms since the previous sample) and what it saw. */
  interval: { ms: number; events: number; bytes: number };
  /** The running totals the deltas are taken between. */
  total: { events: number; bytes: number };
}

/** What a demo server's /metrics and /stats read: its listeners and the broadcast channel. */
export interface DemoParts {
  counter: SseListener<IncomingMessage>;
  broadcast: SseListener<IncomingMessage>;
  /** /stats' own listener: its streams are in no figure. */
  stats: SseListener<IncomingMessage>;
  channel: Channel | SharedChannel;
}

const partsOf = new WeakMap<Server, DemoParts>();

/** The parts of a server createDemoServer made (a test compares /stats with their stats()). */
export function demoParts(server: Server): DemoParts {
  const parts = partsOf.get(server);
  if (parts === undefined) throw new TypeError("not a server createDemoServer made");
  return parts;
}

const MAX_CHAT_BYTES = 1024;

export function createDemoServer(options: DemoOptions = {}): Server {
  const { intervalMs = 1000, clockMs = 1000, retryMs = 1000, statsMs = 1000 } = options;
  if (!(Number.isFinite(statsMs) && statsMs >= 1)) throw new RangeError(`DemoOptions statsMs must be a number >= 1, got ${String(statsMs)}`);
  const broadcast = options.broadcast ?? new Channel({ history: { maxEvents: 100, maxBytes: 64 * 1024 } });

  const counter = withSse(async (_req, sse) => {
    const last = Number(sse.lastEventId);
    const start = Number.isSafeInteger(last) && sse.lastEventId !== "" ? last + 1 : 0;
    await sse.send({ counter: start }, { id: String(start), retry: retryMs });
    for (let i = start + 1; i < start + 10; i++) {
      await sse.sleep(intervalMs);
      await sse.send({ counter: i }, { id: String(i) });
    }
    await sse.send("end", { event: "comment" });
  });
  const broadcastStream = withSse(async (req, sse) => {
    const topics = new URL(req.url ?? "/", "http://demo").searchParams.get("topics")?.split(",");
    broadcast.subscribe(sse, topics === undefined ? {} : { filter: (_data, o) => topics.includes(o.event ?? "message") });
    await sse.closed;
  });

  // /stats: one sampler for every watcher, running only while someone watches; each sample
  // is framed once (a channel of its own) and goes to all of them.
  const statsFeed = new Channel();
  let sampler: { timer: ReturnType<typeof setInterval>; previous: Totals; latest: DemoStats | undefined } | undefined;
  const totals = (): Totals => {
    const c = counter.stats();
    const b = broadcastStream.stats();
    const ch = broadcast.stats();
    return {
      time: performance.now(),
      open: c.open + b.open,
      // A listener counts what its handlers send; what the channel fans out it counts in deliveries.
      events: c.events + b.events + ch.deliveries,
      // Channel frames included: bytesWritten counts every byte a stream writes.
      bytes: c.bytesWritten + b.bytesWritten,
      cuts: c.ended.buffer_full + c.ended.stalled + b.ended.buffer_full + b.ended.stalled,
      resumes: ch.resumes,
      resets: ch.unknownIds.reset,
    };
  };
  const sample = (): void => {
    const s = sampler!;
    if (statsFeed.size === 0) return stopSampler();
    const at = new Date().toISOString(); // before the snapshots: they are no older than this
    const now = totals();
    const ms = Math.round((now.time - s.previous.time) * 10) / 10;
    const events = now.events - s.previous.events;
    const bytes = now.bytes - s.previous.bytes;
    const perSec = (n: number) => (ms > 0 ? Math.round((n * 10_000) / ms) / 10 : 0);
    s.previous = now;
    s.latest = {
      at,
      open: now.open,
      eventsPerSec: perSec(events),
      bytesPerSec: perSec(bytes),
      cuts: now.cuts,
      resumes: now.resumes,
      resets: now.resets,
      interval: { ms, events, bytes },
      total: { events: now.events, bytes: now.bytes },
    };
    statsFeed.send(s.latest, "stats");
  };
  const stopSampler = (): void => {
    clearInterval(sampler?.timer);
    sampler = undefined;
  };
  const statsStream = withSse(async (_req, sse) => {
    // A watcher that joins a running sampler gets its latest figures now, not in statsMs.
    if (sampler?.latest !== undefined) void sse.send(sampler.latest, "stats").catch(() => {});
    statsFeed.subscribe(sse);
    if (sampler === undefined) {
      sampler = { timer: setInterval(sample, statsMs), previous: totals(), latest: undefined };
      sampler.timer.unref();
    }
    await sse.closed;
  });

  const ticker = options.clock === false ? undefined : setInterval(() => tick(broadcast), clockMs);
  ticker?.unref();

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://demo").pathname;
    if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
    if (path === "/counter") return counter(req, res);
    if (path === "/broadcast" && req.method === "POST") return void say(broadcast, req, res);
    if (path === "/broadcast") return broadcastStream(req, res);
    if (path === "/stats") return statsStream(req, res);
    if (path === "/metrics") {
      const text = prometheusText({ streams: { counter, broadcast: broadcastStream }, channels: { broadcast } });
      return void res.writeHead(200, { "Content-Type": PROMETHEUS_CONTENT_TYPE }).end(text);
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  });
  partsOf.set(server, { counter, broadcast: broadcastStream, stats: statsStream, channel: broadcast });
  server.on("close", () => {
    clearInterval(ticker);
    stopSampler();
  });
  return server;
}

/** The running totals /stats samples: `time` from performance.now(). */
interface Totals {
  time: number;
  open: number;
  events: number;
  bytes: number;
  cuts: number;
  resumes: number;
  resets: number;
}

/** A clock event: not kept, so it gets no id and never moves a client's place. */
function tick(channel: Channel | SharedChannel): void {
  const sent = channel.send({ time: new Date().toISOString(), listeners: channel.size }, { event: "clock", record: false });
  if (typeof sent !== "number") sent.catch(() => {}); // Redis unreachable: this tick is skipped
}

async function say(chat: Channel | SharedChannel, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CHAT_BYTES) return void res.writeHead(413).end();
    chunks.push(chunk);
  }
  let text: unknown;
  try {
    text = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { text?: unknown }).text;
  } catch {
    text = undefined;
  }
  if (typeof text !== "string" || text.trim() === "") return void res.writeHead(400, { "Content-Type": "text/plain" }).end('send {"text": "..."}\n');
  let answer: { heard: number } | { id: string | undefined };
  try {
    const sent = chat.send({ text, at: new Date().toISOString() }, "chat");
    answer = typeof sent === "number" ? { heard: sent } : { id: await sent };
  } catch (error) {
    return void res.writeHead(503, { "Content-Type": "text/plain" }).end(`not sent: ${(error as Error).message}\n`);
  }
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(answer));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 8080);
  if (process.env.REDIS_URL !== undefined) {
    const { runCluster } = await import("./demo-cluster.js");
    await runCluster(process.env.REDIS_URL, Number(process.env.WORKERS ?? 1), port, (broadcast) => createDemoServer({ broadcast, clock: false }));
  } else {
    createDemoServer().listen(port, "127.0.0.1", () => console.log(`wasm-sse demo on http://127.0.0.1:${port}/`));
  }
}
