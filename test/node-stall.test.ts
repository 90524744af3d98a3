// A client that stops reading (issue #12, item 7), over real sockets on 127.0.0.1: it is cut
// once it has taken no bytes for stallTimeoutMs while bytes are pending, whatever filled its
// buffers (awaited sends, channel deliveries, a replay, keep-alives), its handler is
// cancelled and its slot freed; a slow but steady reader is never cut; and sends nobody
// awaits cannot pile up without bound. Waits are generous: nothing here measures speed.
import type { IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, Channel, withSse, type Sse } from "../host/index.js";
import { until } from "./helpers/events.js";
import { heapAfterGc } from "./helpers/heap.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet, type RawClient } from "./helpers/raw.js";

const STALL_MS = 300;
/** How long past the stall limit a cut may take here: the timer's slack plus a loaded machine. */
const CUT_WITHIN_MS = STALL_MS + 5000;
const BIG = "x".repeat(32 * 1024);

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** How a handler ended: when, and with what reason on its signal. */
interface Ending {
  at: number;
  reason: unknown;
}

/** A raw client that stops reading once the response head is in. */
async function frozen(port: number, headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await rawGet(port, "/", headers);
  await until(() => client.text().includes("\r\n\r\n"), 2000, "the response head");
  client.socket.pause();
  return client;
}

/** A client that reads `bytesPerTick` every `tickMs`, no faster: steady progress, never a stall. */
function slowReader(port: number, path: string, bytesPerTick: number, tickMs: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  let received = 0;
  let tick = 0;
  socket.on("error", () => {});
  socket.once("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if ((tick += chunk.length) >= bytesPerTick) socket.pause();
  });
  const timer = setInterval(() => {
    tick = 0;
    socket.resume();
  }, tickMs);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { received: () => received, closed, stop: () => (clearInterval(timer), socket.destroy()) };
}

describe("stall limit (withSse stallTimeoutMs)", () => {
  it("refuses a stallTimeoutMs out of range at setup", () => {
    for (const bad of [-1, NaN, "60000", Infinity]) expect(() => withSse(() => {}, { stallTimeoutMs: bad as number })).toThrow(RangeError);
    expect(() => withSse(() => {}, { stallTimeoutMs: 0 })).not.toThrow();
  });

  it("cuts a frozen reader of awaited sends: the handler gets CancelledError, the slot is freed for a new stream", async () => {
    let blockedSince: number | undefined;
    let ending: Ending | undefined;
    let caught: unknown;
    let sse: Sse | undefined;
    const listener = withSse(async (req: IncomingMessage, s: Sse) => {
      if (req.url !== "/") return void (await s.send("hello"));
      sse = s;
      try {
        for (;;) {
          const sent = s.send(BIG);
          blockedSince ??= performance.now();
          await sent;
          blockedSince = undefined;
        }
      } catch (e) {
        caught = e;
      } finally {
        ending = { at: performance.now(), reason: s.signal.reason };
      }
    }, { stallTimeoutMs: STALL_MS, maxConnections: 1 });
    running = await serve(listener);
    const client = await frozen(running.port);
    await until(() => blockedSince !== undefined && performance.now() - blockedSince > 100, 10_000, "a send to block");
    const blockedAt = blockedSince!;
    expect((await fetch(`${running.url}/next`)).status).toBe(503); // the one slot is held

    await until(() => ending !== undefined, CUT_WITHIN_MS, "the stalled stream to be cut");
    expect(caught).toBeInstanceOf(CancelledError);
    expect(ending!.reason).toBeInstanceOf(CancelledError);
    expect(ending!.at - blockedAt).toBeGreaterThan(STALL_MS / 2); // not before the limit (the stream blocked just before its send waited)
    expect(sse!.signal.aborted).toBe(true);
    await expect(sse!.send("late")).rejects.toBeInstanceOf(CancelledError);
    client.socket.resume(); // a paused socket does not see the reset
    await client.closed; // the server dropped the connection
    expect(listener.openConnections).toBe(0);
    const next = await fetch(`${running.url}/next`);
    expect(next.status).toBe(200);
    expect(await next.text()).toBe("data: hello\n\n");
  });

  it("cuts frozen readers of channel deliveries and of a replay, below maxBufferedBytes", async () => {
    // 16 MiB per client is more than the kernel and Node take in, less than maxBufferedBytes.
    const channel = new Channel({ history: { maxEvents: 1024, maxBytes: 32 * 1024 * 1024 } });
    for (let n = 1; n <= 512; n++) channel.send(BIG, { id: String(n) });
    const endings = new Map<string, Ending>();
    const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
      channel.subscribe(sse); // a Last-Event-ID replays what followed it
      await sse.closed;
      endings.set(req.headers["last-event-id"] === undefined ? "live" : "replay", { at: performance.now(), reason: sse.signal.reason });
    }, { stallTimeoutMs: STALL_MS, maxBufferedBytes: 64 * 1024 * 1024 });
    running = await serve(listener);
    const replay = await frozen(running.port, { "Last-Event-ID": "1" });
    const live = await frozen(running.port);
    await until(() => channel.size === 2, 2000, "two subscribers");
    for (let n = 513; n <= 1024; n++) channel.send(BIG, { id: String(n) });

    await until(() => endings.size === 2, CUT_WITHIN_MS, "both frozen readers to be cut");
    for (const ending of endings.values()) expect(ending.reason).toBeInstanceOf(CancelledError);
    for (const client of [replay, live]) client.socket.resume();
    await Promise.all([replay.closed, live.closed]);
    expect(channel.size).toBe(0);
    expect(listener.openConnections).toBe(0);
  });

  it("cuts a frozen reader while its handler sleeps and the core frames only keep-alives", async () => {
    let ending: Ending | undefined;
    const listener = withSse(async (_req: IncomingMessage, sse: Sse) => {
      // 16 MiB that the kernel and Node cannot take in all: the stream ends up waiting on 'drain'.
      for (let i = 0; i < 512; i++) sse.send(BIG).catch(() => {});
      try {
        await sse.sleep(60_000);
      } finally {
        ending = { at: performance.now(), reason: sse.signal.reason };
      }
    }, { stallTimeoutMs: STALL_MS, keepAliveMs: 20, maxBufferedBytes: 64 * 1024 * 1024 });
    running = await serve(listener);
    const client = await frozen(running.port);
    await until(() => ending !== undefined, CUT_WITHIN_MS + 2000, "the frozen reader to be cut");
    expect(ending!.reason).toBeInstanceOf(CancelledError);
    client.socket.resume();
    await client.closed;
    expect(listener.openConnections).toBe(0);
  });

  it("never cuts a slow but steady reader of one large write, while a frozen one beside it is cut", async () => {
    // One 32 MiB broadcast is one write per stream: Node's buffer shrinks only when all of it
    // is in the kernel (seconds for the slow reader), so progress must be read below it. A
    // longer window than elsewhere: a busy machine's pause must not pass for a stall.
    const channel = new Channel();
    const endings = new Map<string, Ending>();
    const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
      channel.subscribe(sse);
      await sse.closed;
      endings.set(req.url!, { at: performance.now(), reason: sse.signal.reason });
    }, { stallTimeoutMs: 1000, maxBufferedBytes: 256 * 1024 * 1024 });
    running = await serve(listener);
    const slow = slowReader(running.port, "/slow", 128 * 1024, 20); // ~6 MB/s: 32 MiB take over 5 s
    await until(() => channel.size === 1, 2000, "the slow reader");
    const still = await frozen(running.port);
    await until(() => channel.size === 2, 2000, "the frozen reader");
    const total = 1024 * (BIG.length + "data: \n\n".length);
    for (let n = 0; n < 1024; n++) channel.send(BIG);

    await until(() => endings.has("/"), 1000 + CUT_WITHIN_MS, "the frozen reader to be cut");
    expect(endings.get("/")!.reason).toBeInstanceOf(CancelledError);
    still.socket.resume();
    await still.closed;
    await until(() => slow.received() >= total || endings.has("/slow"), 60_000, "the slow reader to receive everything");
    expect(endings.has("/slow")).toBe(false);
    expect(channel.size).toBe(1);
    slow.stop();
    await until(() => listener.openConnections === 0, 2000, "the slow stream to close");
  });
});

describe("sends nobody awaits (withSse)", () => {
  it("go out in order when they fit; 200,000 to a frozen reader cut it as too slow instead of piling up", async () => {
    const small = withSse(async (_req: IncomingMessage, sse: Sse) => {
      for (let i = 0; i < 500; i++) sse.send({ i }).catch(() => {});
      await sse.send("end");
    });
    running = await serve(small);
    const events = (await (await fetch(running.url)).text()).split("\n\n").filter((e) => e !== "");
    expect(events).toEqual([...Array.from({ length: 500 }, (_, i) => `data: {"i":${i}}`), "data: end"]);
    await running.close();

    let outcome: { rejected: number; heapGrowth: number; reason: unknown } | undefined;
    const listener = withSse(async (_req: IncomingMessage, sse: Sse) => {
      const before = heapAfterGc();
      let rejected = 0;
      for (let i = 0; i < 200_000; i++) sse.send(`event ${i}`).catch(() => rejected++);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Unbounded, each waiting send held ~550 bytes: 200,000 held over 100 MiB.
      outcome = { rejected, heapGrowth: heapAfterGc() - before, reason: sse.signal.reason };
    }, { stallTimeoutMs: 0 });
    running = await serve(listener);
    const client = await frozen(running.port);
    await until(() => outcome !== undefined, 30_000, "the sends");
    console.log(`unawaited sends: ${outcome!.rejected} of 200000 rejected, heap +${(outcome!.heapGrowth / 2 ** 20).toFixed(1)} MiB after GC`);
    expect(outcome!.reason).toBeInstanceOf(CancelledError);
    expect(String((outcome!.reason as Error).message)).toMatch(/maxBufferedBytes/);
    expect(outcome!.rejected).toBeGreaterThan(190_000);
    expect(outcome!.heapGrowth).toBeLessThan(16 * 2 ** 20);
    client.socket.resume();
    await client.closed;
    expect(listener.openConnections).toBe(0);
  });
});
