// sseResponse and a client that stops reading (issue #12, item 7): a body whose reader takes
// nothing for stallTimeoutMs while it is full is cut (the handler gets CancelledError, the
// slot is freed, the body errors so the server drops the connection), whether sends or
// keep-alives filled it; a slow but steady reader is not; sends nobody awaits are bounded.
// Driven both by a reader that stops pulling and by Hono on @hono/node-server over a real
// socket. Waits are generous: nothing here measures speed.
import { serve as honoServe } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, sseResponse, type WebSse } from "../index.js";
import { openSlots } from "../host/web/response.js";
import { until } from "./helpers/events.js";
import { heapAfterGc } from "./helpers/heap.js";
import { rawGet } from "./helpers/raw.js";

const STALL_MS = 300;
const CUT_WITHIN_MS = STALL_MS + 5000;

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const request = () => new Request("http://localhost/events", { headers: { accept: "text/event-stream" } });

/** A handler that sends `size`-byte events, each awaited, until it is cancelled; what it caught. */
function sender(size: number) {
  const seen: { caught?: unknown; sent: number; sse?: WebSse } = { sent: 0 };
  const handler = async (sse: WebSse) => {
    seen.sse = sse;
    try {
      for (;;) {
        await sse.send("x".repeat(size));
        seen.sent++;
      }
    } catch (e) {
      seen.caught = e;
    }
  };
  return { seen, handler };
}

describe("stall limit (sseResponse stallTimeoutMs)", () => {
  it("refuses a stallTimeoutMs out of range at setup", () => {
    for (const bad of [-1, NaN, "60000", Infinity]) expect(() => sseResponse(request(), () => {}, { stallTimeoutMs: bad as number })).toThrow(RangeError);
  });

  it("cuts a body whose reader stopped pulling: CancelledError, slot freed, the body errors", async () => {
    const base = openSlots();
    const { seen, handler } = sender(1000);
    const response = sseResponse(request(), handler, { stallTimeoutMs: STALL_MS, highWaterMark: 4096 });
    const reader = response.body!.getReader();
    await reader.read(); // one chunk, then no more
    await until(() => seen.caught !== undefined, CUT_WITHIN_MS, "the stalled stream to be cut");
    expect(seen.caught).toBeInstanceOf(CancelledError);
    expect(seen.sse!.signal.reason).toBeInstanceOf(CancelledError);
    expect(openSlots()).toBe(base);
    await expect(reader.read()).rejects.toBeInstanceOf(CancelledError);
  });

  it("cuts a body left unread that only keep-alives filled", async () => {
    let caught: unknown;
    sseResponse(request(), (sse) => sse.sleep(60_000).catch((e: unknown) => void (caught = e)), {
      stallTimeoutMs: STALL_MS,
      keepAliveMs: 10,
      maxEventBytes: 32,
      highWaterMark: 16,
    });
    await until(() => caught !== undefined, CUT_WITHIN_MS, "the unread stream to be cut");
    expect(caught).toBeInstanceOf(CancelledError);
  });

  it("never cuts a reader that pulls slowly but steadily, while a frozen one beside it is cut", async () => {
    const slow = sender(1000);
    const still = sender(1000);
    const options = { stallTimeoutMs: 1000, highWaterMark: 4096 }; // a busy machine's pause must not pass for a stall
    const slowReader = sseResponse(request(), slow.handler, options).body!.getReader();
    const stillReader = sseResponse(request(), still.handler, options).body!.getReader();
    await stillReader.read();
    let read = 0;
    const end = performance.now() + 3000; // several stall windows
    while (performance.now() < end) {
      read += (await slowReader.read()).value!.length;
      await new Promise((resolve) => setTimeout(resolve, 50)); // one chunk every 50 ms
    }
    expect(still.seen.caught).toBeInstanceOf(CancelledError);
    expect(slow.seen.caught).toBeUndefined();
    expect(read).toBeGreaterThan(10_000);
    await slowReader.cancel();
    await until(() => slow.seen.caught !== undefined, 2000, "the slow stream to end");
  });

  it("cuts a frozen client under Hono over a real socket: the connection is dropped", async () => {
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args); // Hono logs the body's error as it drops the connection
    try {
      const base = openSlots();
      const { seen, handler } = sender(32 * 1024);
      const app = new Hono();
      app.get("/events", (c) => sseResponse(c.req.raw, handler, { stallTimeoutMs: STALL_MS }));
      const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
      await new Promise<void>((resolve) => server.once("listening", () => resolve()));
      close = () => new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      });
      const client = await rawGet((server.address() as AddressInfo).port, "/events");
      client.socket.pause();
      await until(() => seen.caught !== undefined, CUT_WITHIN_MS + 5000, "the frozen client to be cut");
      expect(seen.caught).toBeInstanceOf(CancelledError);
      expect(openSlots()).toBe(base);
      client.socket.resume(); // a paused socket does not see the reset
      await client.closed;
    } finally {
      console.error = original;
    }
  });
});

describe("sends nobody awaits (sseResponse)", () => {
  it("go out in order when they fit; 100,000 to a reader that does not pull cut the stream as too slow", async () => {
    const fits = sseResponse(request(), async (sse) => {
      for (let i = 0; i < 500; i++) sse.send({ i }).catch(() => {});
      await sse.send("end");
    });
    const events = (await fits.text()).split("\n\n").filter((e) => e !== "");
    expect(events).toEqual([...Array.from({ length: 500 }, (_, i) => `data: {"i":${i}}`), "data: end"]);

    let outcome: { rejected: number; heapGrowth: number; reason: unknown } | undefined;
    const response = sseResponse(request(), async (sse) => {
      const before = heapAfterGc();
      let rejected = 0;
      for (let i = 0; i < 100_000; i++) sse.send(`event ${i}`).catch(() => rejected++);
      await new Promise((resolve) => setTimeout(resolve, 50));
      outcome = { rejected, heapGrowth: heapAfterGc() - before, reason: sse.signal.reason };
    }, { highWaterMark: 16 * 1024, stallTimeoutMs: 0 });
    await until(() => outcome !== undefined, 30_000, "the sends");
    console.log(`sseResponse unawaited sends: ${outcome!.rejected} of 100000 rejected, heap +${(outcome!.heapGrowth / 2 ** 20).toFixed(1)} MiB after GC`);
    expect(outcome!.reason).toBeInstanceOf(CancelledError);
    expect(String((outcome!.reason as Error).message)).toMatch(/highWaterMark/);
    expect(outcome!.rejected).toBeGreaterThan(90_000);
    expect(outcome!.heapGrowth).toBeLessThan(16 * 2 ** 20);
    await expect(response.body!.getReader().read()).rejects.toBeInstanceOf(CancelledError);
  });
});
