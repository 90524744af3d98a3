// The client process of the load tests: thousands of raw-socket event-stream clients, so the
// server under test (in the test process) and its clients each have their own fd limit and
// their own core. Driven over IPC by fleet-control.ts; it exits when its parent goes.
import { rng } from "../support/wasm.js";
import { localAddress, type Command, type Reply, type Request, type Summary } from "./fleet-protocol.js";
import { SseClient, type ReadMode } from "./sse-client.js";
import { storm } from "./storm-client.js";

const clients = new Map<ReadMode, SseClient[]>();
let opened = 0;

function open(c: Extract<Command, { cmd: "open" }>): Promise<Reply> {
  const list = clients.get(c.mode) ?? [];
  clients.set(c.mode, list);
  let started = 0;
  const settled = new Set<SseClient>();
  return new Promise((resolve) => {
    // A client is settled by its response head or its close, whichever comes first.
    const settle = (client: SseClient) => {
      if (settled.has(client)) return;
      settled.add(client);
      if (settled.size === c.count) resolve({ opened: [...settled].filter((x) => x.counts.status === 200).length });
      else next();
    };
    const next = () => {
      if (started === c.count) return;
      started++;
      const target = { port: c.port, host: "127.0.0.1", localAddress: localAddress(opened++), path: c.path };
      list.push(new SseClient(target, c.mode, settle, settle));
    };
    for (let i = 0; i < Math.min(c.concurrency, c.count); i++) next();
  });
}

function summary(mode: ReadMode): Summary {
  const list = clients.get(mode) ?? [];
  const s: Summary = {
    clients: list.length, ok: 0, closed: 0, ended: 0, malformed: 0, bytes: 0,
    events: { total: 0, min: Infinity, max: 0 }, comments: { total: 0, min: Infinity, max: 0 },
    lastId: { min: Infinity, max: 0 }, disorder: 0, reconnects: { min: Infinity, max: 0 },
  };
  for (const { counts: k } of list) {
    if (k.status === 200) s.ok++;
    if (k.closed) s.closed++;
    if (k.ended) s.ended++;
    if (k.malformed !== undefined) s.malformed++;
    s.bytes += k.bytes;
    s.events.total += k.events;
    s.events.min = Math.min(s.events.min, k.events);
    s.events.max = Math.max(s.events.max, k.events);
    s.comments.total += k.comments;
    s.comments.min = Math.min(s.comments.min, k.comments);
    s.comments.max = Math.max(s.comments.max, k.comments);
    s.lastId.min = Math.min(s.lastId.min, k.lastId);
    s.lastId.max = Math.max(s.lastId.max, k.lastId);
    s.disorder += k.disorder;
    s.reconnects.min = Math.min(s.reconnects.min, k.reconnects);
    s.reconnects.max = Math.max(s.reconnects.max, k.reconnects);
  }
  return s;
}

/** After a cut: each client reconnects at its own random moment; resolves once every one has its head or closed again. */
function reconnect(c: Extract<Command, { cmd: "reconnect" }>): Promise<Reply> {
  const list = clients.get(c.mode) ?? [];
  const still = list.filter((client) => !client.counts.closed).length;
  if (still > 0) throw new Error(`${still} ${c.mode} clients are still connected: reconnect follows a cut`);
  const next = rng(c.seed);
  return new Promise((resolve) => {
    const settled = new Set<SseClient>();
    const settle = (client: SseClient) => {
      settled.add(client);
      if (settled.size === list.length) resolve({ reconnected: list.filter((x) => x.counts.status === 200).length });
    };
    if (list.length === 0) resolve({ reconnected: 0 });
    for (const client of list) setTimeout(() => client.reconnect(settle), next() * c.withinMs);
  });
}

/** Resolves once every client of the mode is closed or has reached the counts asked for. */
async function wait(c: Extract<Command, { cmd: "wait" }>): Promise<Reply> {
  const end = Date.now() + c.timeoutMs;
  const done = (client: SseClient) =>
    c.closed === true
      ? client.counts.closed
      : client.counts.closed || (client.counts.events >= (c.events ?? 0) && client.counts.lastId >= (c.lastId ?? 0));
  while (!(clients.get(c.mode) ?? []).every(done)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${c.mode} clients: ${JSON.stringify(summary(c.mode))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return summary(c.mode);
}

async function run(command: Command): Promise<Reply> {
  switch (command.cmd) {
    case "open":
      return open(command);
    case "wait":
      return wait(command);
    case "summary":
      return summary(command.mode);
    case "readAll":
      for (const client of clients.get(command.mode) ?? []) client.readAll();
      return summary(command.mode);
    case "destroy": {
      let destroyed = 0;
      for (const list of clients.values()) for (const client of list) destroyed += client.socket.destroyed ? 0 : (client.socket.destroy(), 1);
      return { destroyed };
    }
    case "storm":
      return storm(command.port, command.plan);
    case "reconnect":
      return reconnect(command);
  }
}

process.on("message", (message: Request) => {
  run(message.command).then(
    (result) => process.send!({ seq: message.seq, result }),
    (error: unknown) => process.send!({ seq: message.seq, error: String((error as Error)?.stack ?? error) }),
  );
});
process.on("disconnect", () => process.exit(0));
