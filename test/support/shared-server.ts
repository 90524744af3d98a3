// One server process of the cross-process tests (test/redis-cluster.test.ts): every stream it
// serves is subscribed to one SharedChannel, and the test drives it over HTTP. Started as
//
//   REDIS_URL=redis://127.0.0.1:port STREAM=name node --import tsx test/support/shared-server.ts
//
// (optional: MAXLEN, the stream's redis.maxLen, default 100,000; PREFIX, redis.prefix; PORT,
// default a free one). It listens on 127.0.0.1 and prints one line, {"port": n, "pid": n}, on
// stdout.
//
//   GET  /events        the channel's stream (Last-Event-ID resumes, from any process)
//   GET  /              a page whose own EventSource reads /events into window.got, as
//                       "<id> <type> <data>" ("message" and "tick" events)
//   POST /send          {"items": [{"data": ..., "event"?: "..."}, ...]}: sends them all at
//                       once (their XADDs pipelined), answers {"ids": [...]} in the items' order
//   POST /cut           destroys every open /events socket; answers {"cut": n}
//   GET  /stats         {"pid", "size", "lastId", "opened", "resumes": [Last-Event-ID, ...]}
//
// It exits when its stdin ends, so a test process that dies takes its servers with it.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { withSse } from "../../host/node/index.js";
import { SharedChannel } from "../../host/redis/index.js";

const url = process.env.REDIS_URL;
const stream = process.env.STREAM;
if (url === undefined || stream === undefined) throw new Error("shared-server needs REDIS_URL and STREAM");

const channel = await SharedChannel.connect({
  redis: { url, stream, maxLen: Number(process.env.MAXLEN ?? 100_000), ...(process.env.PREFIX !== undefined ? { prefix: process.env.PREFIX } : {}) },
  history: { maxEvents: 1000, maxBytes: 1 << 20 },
  retry: 50,
});

const open = new Set<Socket>();
const resumes: string[] = [];
let opened = 0;

const events = withSse(
  async (req: IncomingMessage, sse) => {
    opened++;
    if (sse.lastEventId !== undefined) resumes.push(sse.lastEventId);
    const socket = req.socket;
    open.add(socket);
    try {
      channel.subscribe(sse);
      await sse.closed;
    } finally {
      open.delete(socket);
    }
  },
  { keepAliveMs: 0 },
);

const PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script>
  window.got = [];
  window.errors = 0;
  const es = new EventSource("/events");
  const got = (e) => window.got.push(e.lastEventId + " " + e.type + " " + e.data);
  es.addEventListener("message", got);
  es.addEventListener("tick", got);
  es.onerror = () => window.errors++;
</script>`;

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
}

async function send(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { items } = (await body(req)) as { items: Array<{ data: unknown; event?: string }> };
  try {
    const ids = await Promise.all(items.map((item) => channel.send(item.data, item.event === undefined ? {} : { event: item.event })));
    json(res, 200, { ids });
  } catch (error) {
    json(res, 503, { error: String(error) });
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://fixture").pathname;
  if (path === "/events") return void events(req, res);
  if (path === "/send" && req.method === "POST") return void send(req, res).catch((error) => json(res, 400, { error: String(error) }));
  if (path === "/cut" && req.method === "POST") {
    const n = open.size;
    for (const socket of open) socket.destroy();
    return json(res, 200, { cut: n });
  }
  if (path === "/stats") return json(res, 200, { pid: process.pid, size: channel.size, lastId: channel.lastId, opened, resumes });
  if (path === "/") return void res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, pid: process.pid })}\n`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
