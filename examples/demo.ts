// The demo server `npm start` runs: no configuration, http://127.0.0.1:8080 (or PORT).
//   /            a page that shows both streams below live, with EventSource
//   /counter     the seed's counter with ids; the browser reconnects after the end and the
//                counter resumes after its Last-Event-ID
//   /broadcast   one Channel for every page: a "clock" event each second and "chat" events;
//                ?topics=chat,clock picks event types (a per-subscriber filter);
//                POST {"text": "..."} says something to everyone. Chat is kept in the
//                channel's history: a page that reconnects gets the messages it missed
//                (clock ticks are not kept: record: false)
// With REDIS_URL the broadcast is a SharedChannel on Redis and WORKERS=N processes serve it
// (demo-cluster.ts): two tabs served by different workers see the same chat and clock.
// A page holds two streams: browsers allow six HTTP/1.1 connections per host, so more
// streams per page would starve a third tab (HTTP/2 lifts that limit).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { Channel, withSse } from "../host/index.js";
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
}

const MAX_CHAT_BYTES = 1024;

export function createDemoServer(options: DemoOptions = {}): Server {
  const { intervalMs = 1000, clockMs = 1000, retryMs = 1000 } = options;
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

  const ticker = options.clock === false ? undefined : setInterval(() => tick(broadcast), clockMs);
  ticker?.unref();

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://demo").pathname;
    if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
    if (path === "/counter") return counter(req, res);
    if (path === "/broadcast" && req.method === "POST") return void say(broadcast, req, res);
    if (path === "/broadcast") return broadcastStream(req, res);
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  });
  server.on("close", () => clearInterval(ticker));
  return server;
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
