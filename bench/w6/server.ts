// A W6 server process: subscribers on /subscribe, and (the first process of a variant) the
// publisher, driven by the runner over IPC. The variant decides how an event reaches the
// subscribers:
//   in-process  wasm-sse's local Channel: send() frames once, every subscriber in this process gets the bytes
//   shared      wasm-sse's SharedChannel: send() adds the event to a Redis stream (XADD); every
//               process, this one too, reads it back with its one XREAD BLOCK loop and fans it out
//   naive       node:http and node-redis pub/sub as people write it: PUBLISH the JSON; each process
//               SUBSCRIBEs, and per message does JSON.parse, one JSON.stringify and a res.write per subscriber
// Usage: server.ts --variant V [--redis URL --key NAME]
import http from "node:http";
import { createClient } from "redis";
import { Channel, withSse, type Sse } from "../../host/index.js";
import { SSE_HEADERS } from "../peers/serve.js";
import { nowUs, w6Event } from "./clock.js";
import type { W6ServerCommand, W6ServerReply, W6Variant } from "./protocol.js";

interface Fanout {
  subscribe(req: http.IncomingMessage, res: http.ServerResponse): void;
  publish(i: number): void;
  /** Redis commands this process has issued (0 for the in-process channel). */
  commands(): number;
}

/** As bench/peers/wasm-sse.ts: no keep-alive comments, room for every subscriber. */
const OPTIONS = { keepAliveMs: 0, maxConnections: 20_000 };

function option(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i === -1 ? undefined : process.argv[i + 1];
  if (v === undefined) throw new Error(`a W6 server needs ${name}`);
  return v;
}

const reply = (msg: W6ServerReply): void => void process.send!(msg);
const fail = (error: unknown): void => reply({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
process.on("disconnect", () => process.exit(0));

let subscribers = 0;

/** Streams that each subscribe to `channel`, counted while open. */
function subscribedTo(channel: { subscribe(sse: Sse): unknown }) {
  return withSse(async (_req, sse) => {
    channel.subscribe(sse);
    subscribers++;
    await sse.closed;
    subscribers--;
  }, OPTIONS);
}

async function inProcess(): Promise<Fanout> {
  const channel = new Channel();
  const subscribe = subscribedTo(channel);
  return {
    subscribe: (req, res) => subscribe(req, res),
    publish: (i) => void channel.send(w6Event(i)),
    commands: () => 0,
  };
}

async function shared(url: string, key: string): Promise<Fanout> {
  const { SharedChannel } = await import("../../host/redis/index.js");
  const channel = await SharedChannel.connect({ redis: { url, stream: key, maxLen: 100_000 } });
  const subscribe = subscribedTo(channel);
  return {
    subscribe: (req, res) => subscribe(req, res),
    publish: (i) => void channel.send(w6Event(i)).catch(fail),
    commands: () => channel.redisCommands,
  };
}

async function naive(url: string, key: string, publisher: boolean): Promise<Fanout> {
  const responses = new Set<http.ServerResponse>();
  let commands = 0;
  // node-redis's one departure from its defaults: no command timeout. Its default (5 s) fails a
  // PUBLISH that waits that long to be written, which an overloaded naive publisher does at
  // W6's load: the event is then lost, and the pass would never end.
  const options = { url, commandOptions: { timeout: 0 } };
  const sub = createClient(options);
  sub.on("error", fail);
  await sub.connect();
  commands++;
  await sub.subscribe(key, (message) => {
    const msg = JSON.parse(message);
    const frame = `data: ${JSON.stringify(msg)}\n\n`;
    for (const res of responses) res.write(frame);
  });
  const pub = publisher ? createClient(options) : undefined;
  if (pub !== undefined) {
    pub.on("error", fail);
    await pub.connect();
  }
  return {
    subscribe(_req, res) {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
      responses.add(res);
      subscribers++;
      res.on("close", () => {
        responses.delete(res);
        subscribers--;
      });
    },
    publish(i) {
      commands++;
      pub!.publish(key, JSON.stringify(w6Event(i))).catch(fail);
    },
    commands: () => commands,
  };
}

/** Sends events from..from+count-1, event k due k/rate s after the start; the lateness of each, in µs. */
function pace(fanout: Fanout, from: number, count: number, rate: number, done: (lags: Float64Array) => void): void {
  const start = nowUs();
  const lags = new Float64Array(count);
  const due = (k: number): number => start + (k * 1e6) / rate;
  let k = 0;
  const tick = (): void => {
    while (k < count && due(k) <= nowUs()) {
      lags[k] = nowUs() - due(k);
      fanout.publish(from + k);
      k++;
    }
    if (k < count) setTimeout(tick, Math.max(0, (due(k) - nowUs()) / 1000));
    else done(lags);
  };
  tick();
}

/** Sends events from..from+count-1, `burst` per turn of the event loop. */
function burst(fanout: Fanout, from: number, count: number, size: number, done: () => void): void {
  let k = 0;
  const step = (): void => {
    const end = Math.min(count, k + size);
    for (; k < end; k++) fanout.publish(from + k);
    if (k < count) setImmediate(step);
    else done();
  };
  step();
}

function quantile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const variant = option("--variant") as W6Variant;
  const publisher = process.argv.includes("--publisher");
  const fanout =
    variant === "in-process" ? await inProcess()
    : variant === "shared" ? await shared(option("--redis"), option("--key"))
    : variant === "naive" ? await naive(option("--redis"), option("--key"), publisher)
    : undefined;
  if (fanout === undefined) throw new Error(`unknown W6 variant ${variant}`);

  const server = http.createServer((req, res) => {
    if (req.url === "/subscribe") fanout.subscribe(req, res);
    else res.writeHead(404).end();
  });
  server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
    reply({ type: "listening", port: (server.address() as { port: number }).port });
  });

  process.on("message", (msg: W6ServerCommand) => {
    switch (msg.type) {
      case "subscribers":
        reply({ type: "subscribers", count: subscribers });
        return;
      case "commands":
        reply({ type: "commands", commands: fanout.commands() });
        return;
      case "pace":
        pace(fanout, msg.from, msg.count, msg.rate, (lags) => {
          lags.sort();
          reply({ type: "published", events: msg.count, lag: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: quantile(lags, 1) } });
        });
        return;
      case "burst":
        burst(fanout, msg.from, msg.count, msg.burst, () => reply({ type: "published", events: msg.count }));
        return;
    }
  });
}

main().catch((error) => {
  fail(error);
  setTimeout(() => process.exit(1), 100);
});
