// sseResponse under Hono on @hono/node-server: the seed's events with a real EventSource
// client, cancellation when the client goes, bad input, refusals, backpressure.
import { serve as honoServe } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, InvalidFieldError, sseResponse } from "../index.js";
import { readAll } from "./helpers/events.js";
import { rawGet } from "./helpers/raw.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function start(app: Hono): Promise<{ url: string; port: number }> {
  const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  close = () => new Promise<void>((resolve) => {
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
  return { url: `http://127.0.0.1:${port}`, port };
}

describe("sseResponse (fetch-style Response)", () => {
  it("serves the seed's events under Hono, with the event-stream headers", async () => {
    const app = new Hono();
    app.get("/events", (c) => sseResponse(c.req.raw, async (sse) => {
      for (let i = 0; i < 10; i++) {
        await sse.sleep(2);
        await sse.send({ counter: i });
      }
      await sse.send("end", { event: "comment" });
    }));
    const { url } = await start(app);
    const { response, stream } = await readAll(`${url}/events`);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual([
      ...Array.from({ length: 10 }, (_, i) => ["message", JSON.stringify({ counter: i })]),
      ["comment", "end"],
    ]);
  });

  it("cancels the handler when the client goes: catch and finally run", async () => {
    const app = new Hono();
    const seen: string[] = [];
    let cancelled!: () => void;
    const done = new Promise<void>((resolve) => (cancelled = resolve));
    app.get("/events", (c) => sseResponse(c.req.raw, async (sse) => {
      try {
        for (let i = 0; ; i++) {
          await sse.send({ i });
          await sse.sleep(5);
        }
      } catch (e) {
        seen.push(e instanceof CancelledError ? "cancelled" : String(e));
      } finally {
        seen.push(sse.signal.aborted ? "finally, aborted" : "finally");
        cancelled();
      }
    }));
    const { port } = await start(app);
    const client = await rawGet(port, "/events");
    await new Promise((r) => setTimeout(r, 50));
    client.socket.destroy();
    await done;
    expect(seen).toEqual(["cancelled", "finally, aborted"]);
  });

  it("rejects bad input with a typed error and keeps the stream usable", async () => {
    const app = new Hono();
    const errors: unknown[] = [];
    app.get("/events", (c) => sseResponse(c.req.raw, async (sse) => {
      await sse.send("x", { event: "a\nb" }).catch((e) => errors.push(e));
      await sse.send({ n: 1n }).catch((e) => errors.push(e));
      await sse.send("still here", { id: "7" });
    }));
    const { url } = await start(app);
    const { stream } = await readAll(`${url}/events`);
    expect(errors[0]).toBeInstanceOf(InvalidFieldError);
    expect(errors[1]).toBeInstanceOf(TypeError);
    expect(stream.events().map((e) => [e.data, e.id])).toEqual([["still here", "7"]]);
  });

  it("refuses other methods with 405 and non-event-stream Accept with 406; reads Last-Event-ID", async () => {
    const app = new Hono();
    let last: string | undefined;
    app.all("/events", (c) => sseResponse(c.req.raw, (sse) => void (last = sse.lastEventId)));
    const { url } = await start(app);
    const post = await fetch(`${url}/events`, { method: "POST" });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
    expect((await fetch(`${url}/events`, { headers: { accept: "application/json" } })).status).toBe(406);
    await (await fetch(`${url}/events?lastEventId=q`, { headers: { "last-event-id": "41" } })).text();
    expect(last).toBe("41");
    await (await fetch(`${url}/events?lastEventId=q`)).text();
    expect(last).toBe("q");
  });

  it("waits for a client that stops reading instead of queueing without bound", async () => {
    const app = new Hono();
    let sent = 0;
    app.get("/events", (c) => sseResponse(c.req.raw, async (sse) => {
      for (let i = 0; i < 100_000; i++) {
        await sse.send("x".repeat(1000));
        sent++;
      }
    }, { highWaterMark: 64 * 1024 }));
    const { port } = await start(app);
    const client = await rawGet(port, "/events");
    client.socket.pause();
    await new Promise((r) => setTimeout(r, 500));
    const stalled = sent;
    await new Promise((r) => setTimeout(r, 300));
    // Kernel and Node buffers absorb some; the handler then waits on the body.
    expect(sent).toBe(stalled);
    expect(sent).toBeLessThan(100_000);
    client.socket.destroy();
  });
});
