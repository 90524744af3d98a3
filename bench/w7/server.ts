// W7's server: one process per peer per run (`--peer NAME`), the peer's subscribe route on
// node:http, and the runner's commands: count subscribers, send events, and cut every
// connection at once. The harness keeps every socket the server accepts, so the cut is the
// same for each peer: each socket destroyed (a FIN to the client), and each peer then sees its
// clients go the way it always does.
import http from "node:http";
import type { Socket } from "node:net";
import type { ResumablePeer } from "./peer.js";
import { W7_PEERS, type W7Peer, type W7ServerCommand, type W7ServerReply } from "./protocol.js";

/** How often the cut checks whether every connection and subscriber is gone: a timer, not a busy loop, so the wait costs no CPU that counts. */
const POLL_MS = 1;

function reply(msg: W7ServerReply): void {
  process.send!(msg);
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

/** Destroys every socket, then calls `done` once each has closed and the peer counts no subscriber. */
function cut(sockets: Set<Socket>, peer: ResumablePeer, done: (connections: number) => void): void {
  const connections = sockets.size;
  for (const socket of sockets) socket.destroy();
  const check = (): void => {
    if (sockets.size === 0 && peer.subscribers() === 0) done(connections);
    else setTimeout(check, POLL_MS);
  };
  check();
}

async function main(): Promise<void> {
  // tsx turns on source maps. At the cut Node makes an error for every aborted request and
  // formats its stack, which through source maps cost about 6 µs more a connection here: a cost
  // of running TypeScript under tsx, not of any peer, and one a compiled server does not pay.
  process.setSourceMapsEnabled(false);
  const name = option("--peer") as W7Peer;
  if (!W7_PEERS.includes(name)) throw new Error(`unknown W7 peer ${name}`);
  // Only this peer's code is loaded: another library's modules would count in its memory.
  const { peer } = (await import(`./peers/${name}.js`)) as { peer: ResumablePeer };
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    if (req.url === "/subscribe") peer.subscribe(req, res);
    else res.writeHead(404).end();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // A deep accept queue, as for W1–W3: a storm of connects must not overflow it.
  server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
    reply({ type: "listening", port: (server.address() as { port: number }).port });
  });

  process.on("message", (msg: W7ServerCommand) => {
    switch (msg.type) {
      case "subscribers":
        reply({ type: "subscribers", count: peer.subscribers() });
        return;
      case "send":
        for (let id = msg.from; id <= msg.to; id++) peer.send(id);
        reply({ type: "sent" });
        return;
      case "cut":
        cut(sockets, peer, (connections) => reply({ type: "cut", connections }));
        return;
    }
  });
  process.on("disconnect", () => process.exit(0));
}

main().catch((error: unknown) => {
  reply({ type: "error", message: error instanceof Error ? error.message : String(error) });
  setTimeout(() => process.exit(1), 100);
});
