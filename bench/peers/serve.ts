// The part every peer server shares: an HTTP server on 127.0.0.1, the two routes, and the
// runner's commands. Each peer supplies only its own way of serving the event stream.
import http from "node:http";
import type { PeerCommand, PeerReply } from "../protocol.js";

export interface Peer {
  /** W1: events 0..n-1 on this response as fast as backpressure allows, then the end. */
  stream(req: http.IncomingMessage, res: http.ServerResponse, n: number): void;
  /** W2, W3: an event stream that receives every broadcast until the client goes. */
  subscribe(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Event i to every subscriber. */
  broadcast(i: number): void;
  subscribers(): number;
}

/** The response headers every peer sends with its event stream. */
export const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
};

/** The largest event count any case asks for: peers that pre-build frames build this many. */
export function maxEvents(): number {
  const i = process.argv.indexOf("--events");
  const n = i === -1 ? NaN : Number(process.argv[i + 1]);
  if (!(n > 0)) throw new Error("a peer needs --events N");
  return n;
}

export function serve(peer: Peer): void {
  const reply = (msg: PeerReply): void => void process.send!(msg);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/stream") peer.stream(req, res, Number(url.searchParams.get("n")));
    else if (url.pathname === "/subscribe") peer.subscribe(req, res);
    else res.writeHead(404).end();
  });
  // A deep accept queue: with Node's default (511) a burst of connects overflows it and the
  // kernel drops SYNs, which the client only retries a second later.
  server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
    reply({ type: "listening", port: (server.address() as { port: number }).port });
  });

  process.on("message", (msg: PeerCommand) => {
    switch (msg.type) {
      case "broadcast":
        // Events come in bursts, one burst per turn of the event loop, as an application
        // producing them quickly would: a server may coalesce a burst, never more.
        broadcast(peer, msg.n, msg.burst, () => reply({ type: "broadcast-done" }));
        return;
      case "subscribers":
        reply({ type: "subscribers", count: peer.subscribers() });
        return;
      case "gc":
        globalThis.gc?.();
        const { heapUsed, external } = process.memoryUsage();
        reply({ type: "gc-done", heapUsed, external });
        return;
    }
  });
  process.on("disconnect", () => process.exit(0));
}

function broadcast(peer: Peer, n: number, burst: number, done: () => void): void {
  let i = 0;
  const step = (): void => {
    const end = Math.min(n, i + burst);
    for (; i < end; i++) peer.broadcast(i);
    if (i < n) setImmediate(step);
    else done();
  };
  step();
}
