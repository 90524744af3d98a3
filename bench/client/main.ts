// The load client, a process of its own: raw sockets on 127.0.0.1, a hand-rolled HTTP
// response reader and the byte-level event counter, so that it is never the bottleneck
// (the runner reports its CPU from /proc to show it).
import net from "node:net";
import { type ClientCommand, type ClientReply, OPENING_AT_ONCE } from "../protocol.js";
import { EventCounter } from "./counter.js";
import { ResponseReader } from "./response.js";
import { StreamCheck } from "./verify.js";

interface Stream {
  socket: net.Socket;
  counter: EventCounter;
  check?: StreamCheck;
  /** Resolves when the response head has arrived. */
  head: Promise<void>;
}

/** Every connection opened by `open` commands, until `close`. */
let open: Stream[] = [];

function reply(msg: ClientReply): void {
  process.send!(msg);
}

/**
 * Connects and sends `GET path`; `onEvents` runs after each read with the counter.
 * Resolves once connected and the request is written.
 */
function connect(port: number, path: string, check: StreamCheck | undefined, onEvents: (c: EventCounter) => void): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const counter = new EventCounter();
    const reader = new ResponseReader(check === undefined
      ? (bytes) => counter.feed(bytes)
      : (bytes) => {
          counter.feed(bytes);
          check.feed(bytes);
        });
    const socket = net.connect({ host: "127.0.0.1", port });
    let headArrived!: () => void;
    const stream: Stream = { socket, counter, check, head: new Promise((resolve) => (headArrived = resolve)) };
    let connected = false;
    socket.on("connect", () => {
      connected = true;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
      resolve(stream);
    });
    socket.on("data", (buf: Buffer) => {
      try {
        reader.feed(buf);
      } catch (err) {
        fail(err);
        return;
      }
      if (reader.headersDone) headArrived();
      onEvents(counter);
    });
    socket.on("error", (err) => (connected ? fail(err) : reject(err)));
  });
}

function fail(err: unknown): void {
  reply({ type: "error", message: err instanceof Error ? err.message : String(err) });
}

async function stream(port: number, n: number, verify: boolean): Promise<void> {
  const check = verify ? new StreamCheck() : undefined;
  let finished = false;
  const s = await connect(port, `/stream?n=${n}`, check, (c) => {
    if (finished || c.events < n) return;
    finished = true;
    s.socket.destroy();
    reply({ type: "streamed", events: c.events, bytes: c.bytes, verdict: check?.verdict(c.events) });
  });
}

/** `conns` subscribers, OPENING_AT_ONCE at a time: each place in the window is free again at its connection's response head. */
async function openMany(port: number, conns: number, n: number, verifyFirst: boolean): Promise<void> {
  let done = 0;
  const streams: Stream[] = [];
  const onEvents = (c: EventCounter): void => {
    if (c.events !== n) return; // exactly once per connection, when it reaches n
    if (++done < conns) return;
    const first = streams[0]!;
    reply({
      type: "counted",
      events: streams.reduce((a, s) => a + s.counter.events, 0),
      bytes: streams.reduce((a, s) => a + s.counter.bytes, 0),
      verdict: first.check?.verdict(first.counter.events),
    });
  };
  const t0 = performance.now();
  let started = 0;
  const opener = async (): Promise<void> => {
    while (started < conns) {
      const j = started++;
      const check = verifyFirst && j === 0 ? new StreamCheck() : undefined;
      const s = await connect(port, "/subscribe", check, n > 0 ? onEvents : () => {});
      streams[j] = s;
      await s.head;
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPENING_AT_ONCE, conns) }, opener));
  const seconds = (performance.now() - t0) / 1000;
  open = open.concat(streams);
  reply({ type: "opened", conns: streams.length, seconds });
}

function closeAll(): void {
  // A reset leaves no TIME_WAIT behind, so thousands of connections per case never run
  // the machine out of ephemeral ports.
  for (const s of open) s.socket.resetAndDestroy();
  open = [];
  reply({ type: "closed" });
}

process.on("message", (msg: ClientCommand) => {
  const run = async (): Promise<void> => {
    switch (msg.type) {
      case "stream":
        return stream(msg.port, msg.n, msg.verify);
      case "open":
        return openMany(msg.port, msg.conns, msg.n, msg.verifyFirst);
      case "close":
        return closeAll();
    }
  };
  run().catch(fail);
});
process.on("disconnect", () => process.exit(0));
