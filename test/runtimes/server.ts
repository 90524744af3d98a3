// The server test/runtimes.test.ts runs under Bun, Deno or Node 22 (with --import tsx), on
// 127.0.0.1, free ports:
// - web: a Hono app answering with sseResponse, served by the runtime's own server (Bun.serve,
//   Deno.serve; on Node @hono/node-server's serve) with app.fetch; under Bun also a second
//   Bun.serve with idleTimeout: 5 (idle5).
// - node: createServer(withSse(handler)) on the runtime's node:http.
// Routes on both hosts:
//   /counter                           script.ts's counter
//   /endless?name&tick&ka[&only]        ticks every `tick` ms (0: sleeps), ends only when cancelled;
//                                      prints {"started":name}, then {"ending":…} from its finally.
//                                      web only: only=signal hides the body's cancel from the
//                                      stream, only=cancel hands sseResponse a request whose
//                                      signal never aborts, so each mechanism is tried alone.
//   /channel                           subscribes to that host's Channel (history, retry: 1000)
// and on web: /publish?host&id&data (sends on that host's channel), /size?host (its subscribers).
// Prints {"ready":{runtime, web, node, idle5?}} first; exits when its stdin closes.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { withSse } from "../../host/node/index.js";
import { CancelledError, Channel, sseResponse, type Sse } from "../../host/web/index.js";
import { counter } from "./script.js";

const say = (line: object) => console.log(JSON.stringify(line));

/** What /endless saw when it ended: how it was cancelled, and that its `finally` ran. */
export interface Ending {
  name: string;
  error: string;
  signalReason: string;
  finallyRan: boolean;
}

async function endless(sse: Sse, name: string, tickMs: number): Promise<void> {
  say({ started: name });
  const ending: Ending = { name, error: "none", signalReason: "none", finallyRan: false };
  try {
    for (let i = 0; ; i++) {
      await sse.sleep(tickMs > 0 ? tickMs : 60_000);
      await sse.send({ tick: i });
    }
  } catch (e) {
    ending.error = e instanceof CancelledError ? "CancelledError" : String(e);
  } finally {
    ending.finallyRan = true;
    const reason: unknown = sse.signal.reason;
    ending.signalReason = !sse.signal.aborted ? "not aborted" : reason instanceof CancelledError ? "CancelledError" : String(reason);
    say({ ending });
  }
}

const channels: Record<string, Channel> = {
  web: new Channel({ history: { maxEvents: 100, maxBytes: 1 << 16 }, retry: 1000 }),
  node: new Channel({ history: { maxEvents: 100, maxBytes: 1 << 16 }, retry: 1000 }),
};
const subscribe = (channel: Channel) => async (sse: Sse) => {
  channel.subscribe(sse);
  await sse.closed;
};
const query = (url: string) => {
  const q = new URL(url, "http://x").searchParams;
  return { name: q.get("name") ?? "", tick: Number(q.get("tick") ?? 0), ka: Number(q.get("ka") ?? 0), only: q.get("only") };
};

const app = new Hono();
app.get("/counter", (c) => sseResponse(c.req.raw, counter, { keepAliveMs: 0 }));
app.get("/endless", (c) => {
  const q = query(c.req.url);
  const request = q.only === "cancel" ? new Request(c.req.url, { headers: c.req.raw.headers }) : c.req.raw;
  const response = sseResponse(request, (sse) => endless(sse, q.name, q.tick), { keepAliveMs: q.ka });
  if (q.only !== "signal") return response;
  // The runtime's cancel stops here: only the request's signal can tell sseResponse.
  const inner = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await inner.read();
      try {
        if (done) controller.close();
        else controller.enqueue(value);
      } catch {} // cancelled meanwhile
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
});
app.get("/channel", (c) => sseResponse(c.req.raw, subscribe(channels.web!), { keepAliveMs: 0 }));
app.get("/publish", (c) => c.json({ delivered: channels[c.req.query("host")!]!.send(c.req.query("data"), { id: c.req.query("id")! }) }));
app.get("/size", (c) => c.json({ size: channels[c.req.query("host")!]!.size }));

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  "/counter": withSse((_req, sse) => counter(sse), { keepAliveMs: 0 }),
  "/endless": withSse((req, sse) => {
    const q = query(req.url!);
    return endless(sse, q.name, q.tick);
  }, { keepAliveMs: 0 }),
  "/channel": withSse((_req, sse) => subscribe(channels.node!)(sse), { keepAliveMs: 0, resumeFrom: channels.node! }),
};
const nodeServer = createServer((req, res) => {
  const route = routes[new URL(req.url!, "http://x").pathname];
  if (route !== undefined) route(req, res);
  else res.writeHead(404).end();
});
await new Promise<void>((resolve) => nodeServer.listen(0, "127.0.0.1", resolve));
const node = (nodeServer.address() as AddressInfo).port;

type Runtimes = {
  Bun?: { version: string; serve(o: { hostname: string; port: number; idleTimeout?: number; fetch: typeof app.fetch }): { port: number } };
  Deno?: { version: { deno: string }; serve(o: { hostname: string; port: number; onListen(): void }, fetch: typeof app.fetch): { addr: { port: number } } };
};
const { Bun, Deno } = globalThis as Runtimes;
if (Bun !== undefined) {
  const web = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch }).port;
  const idle5 = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 5, fetch: app.fetch }).port;
  say({ ready: { runtime: `bun ${Bun.version}`, web, node, idle5 } });
} else if (Deno !== undefined) {
  const web = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch).addr.port;
  say({ ready: { runtime: `deno ${Deno.version.deno}`, web, node } });
} else {
  const { serve } = await import("@hono/node-server");
  const web = await new Promise<number>((resolve) => serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch }, (info) => resolve(info.port)));
  say({ ready: { runtime: `node ${process.versions.node}`, web, node } });
}
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(3), 600_000).unref(); // never outlives a forgotten test run
