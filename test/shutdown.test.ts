// Graceful shutdown: listener.close() sends every open stream a last event after what it
// already had, cancels every handler (its cleanup runs), ends every response, and does not
// wait past its deadline for a client that is not reading.
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidFieldError, JsonValueError } from "../bindings/index.js";
import { CancelledError, withSse, type Sse } from "../host/index.js";
import { openStream as open, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Handlers that send one event, then wait; /flood sends until its client's backpressure blocks it. */
function server() {
  const cleanedUp = new Map<string, unknown>();
  let flooding: "no" | "sending" = "no";
  /** Since when /flood's send has waited (a send waits while Node holds a batch, before the kernel's buffers are full too). */
  let blockedSince: number | undefined;
  const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
    try {
      await sse.send(`hello ${req.url}`);
      if (req.url === "/flood") {
        flooding = "sending";
        for (;;) {
          const sent = sse.send("f".repeat(32 * 1024));
          // Still waiting after a whole turn (a flush ran): the client's buffers may be full.
          if (!(await Promise.race([sent.then(() => true), new Promise<boolean>((r) => setImmediate(r, false))]))) blockedSince ??= performance.now();
          await sent;
          blockedSince = undefined;
        }
      }
      await sse.sleep(60_000);
    } catch (e) {
      cleanedUp.set(req.url!, e);
    } finally {
      if (!cleanedUp.has(req.url!)) cleanedUp.set(req.url!, "returned");
    }
  }, { keepAliveMs: 0 });
  // Blocked for good: no send got through for 200 ms.
  const blocked = () => blockedSince !== undefined && performance.now() - blockedSince > 200;
  return { listener, cleanedUp, flooding: () => (blocked() ? "blocked" : flooding) };
}

describe("listener.close()", () => {
  it("sends the last event to every stream, cancels every handler, and destroys a client that is not reading at the deadline", async () => {
    const { listener, cleanedUp, flooding } = server();
    running = await serve(listener);
    const readers = await Promise.all(["/a", "/b", "/c"].map((p) => open(`${running!.url}${p}`)));
    const frozen = await rawGet(running.port, "/flood");
    frozen.socket.pause();
    await until(() => readers.every((r) => r.stream.events().length === 1), 2000, "the first events");
    await until(() => flooding() === "blocked", 10_000, "the frozen client's buffers to fill");
    expect(listener.openConnections).toBe(4);

    const started = performance.now();
    const report = await listener.close({ event: "shutdown", data: { reason: "restart" }, timeoutMs: 300 });
    const tookMs = performance.now() - started;

    expect(report).toEqual({ streams: 4, destroyed: 1 });
    expect(tookMs).toBeGreaterThanOrEqual(290); // the deadline was waited for the frozen client…
    expect(tookMs).toBeLessThan(3000); // …and not much more
    for (const [i, r] of readers.entries()) {
      await until(() => r.ended() !== undefined, 2000, "the stream's end");
      expect(r.ended()).toBe("clean");
      expect(r.stream.events().map((e) => [e.event, e.data])).toEqual([
        ["message", `hello /${"abc"[i]}`],
        ["shutdown", '{"reason":"restart"}'],
      ]);
    }
    frozen.socket.resume(); // a paused socket sees the server's close only once it reads
    await frozen.closed;
    expect([...cleanedUp.keys()].sort()).toEqual(["/a", "/b", "/c", "/flood"]);
    for (const e of cleanedUp.values()) expect(e).toBeInstanceOf(CancelledError);
    expect((cleanedUp.get("/a") as Error).message).toBe("the server is closing");
    expect(listener.openConnections).toBe(0);

    const late = await fetch(running.url);
    expect(late.status).toBe(503);
    expect(await late.text()).toContain("shutting down");
    console.log(`shutdown: 4 streams, 3 ended with the last event, 1 frozen client destroyed at the 300 ms deadline; close() took ${tookMs.toFixed(0)} ms`);
  });

  it("without a last event, ends every stream after what it had pending; handlers awaiting sse.closed return", async () => {
    const returned: string[] = [];
    const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
      void sse.send("pending, not awaited");
      await sse.closed;
      returned.push(`${req.url} ${sse.signal.aborted}`);
    });
    running = await serve(listener);
    const clients = await Promise.all(["/x", "/y"].map((p) => rawGet(running!.port, p)));
    await until(() => listener.openConnections === 2, 2000, "two streams");
    expect(await listener.close()).toEqual({ streams: 2, destroyed: 0 });
    await Promise.all(clients.map((c) => c.closed));
    for (const c of clients) expect(c.chunks()).toEqual(["data: pending, not awaited\n\n"]);
    expect(returned.sort()).toEqual(["/x true", "/y true"]);
  });

  it("refuses a last event the core refuses, or a bad timeout, with a typed error, and changes nothing", async () => {
    const { listener } = server();
    running = await serve(listener);
    const a = await open(`${running.url}/a`);
    await until(() => a.stream.events().length === 1, 2000, "the stream");
    await expect(listener.close({ event: "bad\nname" })).rejects.toBeInstanceOf(InvalidFieldError);
    await expect(listener.close({ data: { n: 1n } })).rejects.toBeInstanceOf(JsonValueError);
    await expect(listener.close({ data: "x".repeat(70_000) })).rejects.toThrow(/larger than/);
    await expect(listener.close({ timeoutMs: -1 })).rejects.toBeInstanceOf(RangeError);
    expect(listener.openConnections).toBe(1);
    expect(a.ended()).toBeUndefined();
    const b = await open(`${running.url}/b`);
    expect(b.response.status).toBe(200);
    expect(await listener.close({ timeoutMs: 1000 })).toEqual({ streams: 2, destroyed: 0 });
  });

  it("resolves at once with nothing open, and refuses streams from then on", async () => {
    const { listener } = server();
    running = await serve(listener);
    expect(await listener.close()).toEqual({ streams: 0, destroyed: 0 });
    const response = await fetch(running.url);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
  });
});
