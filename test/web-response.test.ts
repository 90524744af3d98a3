// sseResponse under Hono on @hono/node-server: the seed's events with a real EventSource
// client, cancellation when the client goes, bad input, refusals, backpressure, Last-Event-ID
// validation, a trap in a core instance, keep-alives from the core.
import { serve as honoServe } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, InvalidFieldError, sseResponse, type WebSse } from "../index.js";
import { openSlots } from "../host/web/response.js";
import { openStream, readAll, until } from "./helpers/events.js";
import { slotOf } from "./helpers/slot.js";
import { rawGet } from "./helpers/raw.js";
import { corruptSlot, NEXT_FREE, ROW_BYTES, rowOf } from "./helpers/trap.js";

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

// Engines are compared by identity as booleans: a failed toBe would print one, wasm memory and all.

/** A Hono app whose streams park under their name and record how they ended. */
function parking(options: (name: string) => Parameters<typeof sseResponse>[2]) {
  const streams = new Map<string, WebSse>();
  const endings = new Map<string, unknown>();
  const app = new Hono();
  app.get("/:name", (c) => {
    const name = c.req.param("name");
    return sseResponse(c.req.raw, async (sse) => {
      streams.set(name, sse);
      try {
        await sse.sleep(60_000);
      } catch (e) {
        endings.set(name, e);
        throw e;
      }
    }, options(name));
  });
  return { app, streams, endings };
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

  it("aborts sse.signal with an AbortError (not a CancelledError) when the handler returns or throws, releasing work tied to it", async () => {
    const app = new Hono();
    const seen = new Map<string, { sse: WebSse; released: boolean; tied?: Promise<unknown> }>();
    let tiedCancelled: unknown;
    app.get("/hang", (c) => sseResponse(c.req.raw, async (sse) => {
      await sse.sleep(60_000).catch((e: unknown) => (tiedCancelled = e));
    }));
    app.get("/:how", (c) => sseResponse(c.req.raw, async (sse) => {
      const how = c.req.param("how");
      const entry: { sse: WebSse; released: boolean; tied?: Promise<unknown> } = { sse, released: false };
      seen.set(how, entry);
      sse.signal.addEventListener("abort", () => (entry.released = true));
      // A request tied to the stream, left running when the handler ends: the abort cancels it.
      entry.tied = fetch(`${url}/hang`, { signal: sse.signal }).then((r) => r.text());
      entry.tied.catch(() => {});
      await sse.send("hello");
      // A sleep left pending is not cut short by a normal end (only a cancellation does that).
      void sse.sleep(30).then(() => seen.set(`${how} slept`, entry));
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (how === "throws") throw new Error("boom");
    }, { onError: () => {} }));
    const { url } = await start(app);
    for (const how of ["returns", "throws"]) {
      const { stream } = await readAll(`${url}/${how}`);
      expect(stream.events().map((e) => e.data)).toEqual(["hello"]);
      const entry = seen.get(how)!;
      await entry.sse.closed;
      expect(entry.sse.signal.aborted, how).toBe(true);
      expect(entry.sse.signal.reason).toBeInstanceOf(DOMException);
      expect(entry.sse.signal.reason).not.toBeInstanceOf(CancelledError);
      expect((entry.sse.signal.reason as DOMException).name).toBe("AbortError");
      expect(entry.released, how).toBe(true);
      await expect(entry.tied).rejects.toMatchObject({ name: "AbortError" });
      await until(() => tiedCancelled instanceof CancelledError, 2000, "the tied request's handler to be cancelled");
      tiedCancelled = undefined;
      await until(() => seen.has(`${how} slept`), 2000, "the pending sleep to run out");
    }
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

  it("frames sends in call order when one is made as the reader pulls, while others wait", async () => {
    for (let round = 0; round < 20; round++) {
      let sse: WebSse | undefined;
      const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), async (s) => {
        sse = s;
        await s.closed;
      }, { highWaterMark: 1, keepAliveMs: 0 });
      const reader = response.body!.getReader();
      await until(() => sse !== undefined);
      const sent = (n: number) => void sse!.send(String(n)).catch(() => {});
      sent(1); // framed at once: the body is then full
      await new Promise((r) => setTimeout(r, 1 + (round % 3)));
      for (let n = 2; n < 2 + (round % 4) + 1; n++) sent(n); // these wait
      const last = 2 + (round % 4) + 1;
      const first = reader.read(); // the reader pulls...
      sent(last); // ...and a send comes in the same turn: it goes after those waiting
      let got = new TextDecoder().decode((await first).value);
      while ((got.match(/data: /g) ?? []).length < last) got += new TextDecoder().decode((await reader.read()).value);
      expect(got.match(/data: \d+/g)).toEqual(Array.from({ length: last }, (_, i) => `data: ${i + 1}`));
      await reader.cancel();
    }
  });

  it("refuses a Last-Event-ID the core would refuse with 400, using no slot, and gives the core the one it accepts", async () => {
    const app = new Hono();
    const seen: Array<[string | undefined, string | undefined]> = [];
    app.get("/events", (c) => sseResponse(c.req.raw, (sse) => {
      const { engine, conn } = slotOf(sse);
      seen.push([sse.lastEventId, engine.lastEventId(conn)]);
    }));
    const { url } = await start(app);
    await until(() => openSlots() === 0, 2000, "earlier tests' streams to be released");
    const refused = [
      await fetch(`${url}/events?lastEventId=a%0Ab`),
      await fetch(`${url}/events?lastEventId=a%00b`),
      await fetch(`${url}/events`, { headers: { "last-event-id": "x".repeat(257) } }),
      await fetch(`${url}/events`, { headers: { "last-event-id": "\xff" } }), // the byte 0xff: not UTF-8
      // The query parameter follows the header's rule: its percent-decoded bytes must be UTF-8.
      await fetch(`${url}/events?lastEventId=%FF`),
      await fetch(`${url}/events?lastEventId=%ED%A0%80`),
      await fetch(`${url}/events?lastEventId=%ZZ`),
      await fetch(`${url}/events?lastEventId=${"x".repeat(257)}`),
    ];
    for (const response of refused) {
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Last-Event-ID refused: /);
    }
    expect(openSlots()).toBe(0);
    expect(seen).toEqual([]);
    await (await fetch(`${url}/events`, { headers: { "last-event-id": "x".repeat(256) } })).text();
    // EventSource sends the id as UTF-8; fetch sends each char below U+0100 as one byte.
    await (await fetch(`${url}/events`, { headers: { "last-event-id": Buffer.from("é").toString("latin1") } })).text();
    await (await fetch(`${url}/events?lastEventId=%C3%A9+1`)).text();
    expect(seen).toEqual([["x".repeat(256), "x".repeat(256)], ["é", "é"], ["é 1", "é 1"]]);
    await until(() => openSlots() === 0, 2000, "the slots to be free");
  });

  it("ends every stream of a core instance that traps, spares the others, serves new clients, and reports once", async () => {
    const reported: Array<[unknown, string]> = [];
    // c asks for another frame size, so its stream lives on another instance.
    const { app, streams, endings } = parking((name) => ({
      keepAliveMs: 0,
      maxEventBytes: name === "c" ? 32 * 1024 : 64 * 1024,
      onError: (e) => reported.push([e, name]),
    }));
    const { url } = await start(app);
    await until(() => openSlots() === 0, 2000, "earlier tests' streams to be released");
    const [a, b, c] = [await openStream(`${url}/a`), await openStream(`${url}/b`), await openStream(`${url}/c`)];
    await until(() => streams.size === 3, 2000, "three streams");
    const { engine, conn } = slotOf(streams.get("a")!);
    expect(slotOf(streams.get("b")!).engine === engine).toBe(true);
    expect(slotOf(streams.get("c")!).engine === engine).toBe(false);
    await streams.get("b")!.send("b before");
    await until(() => b.stream.events().length === 1, 2000, "b's first event");

    corruptSlot(engine, conn);
    expect(() => engine.send(conn, "probe")).toThrow(WebAssembly.RuntimeError); // the corruption is real
    await expect(streams.get("a")!.send("boom")).rejects.toBeInstanceOf(CancelledError);
    await until(() => a.ended() !== undefined && b.ended() !== undefined, 2000, "a and b to end");
    expect([a.ended(), b.ended()]).toEqual(["clean", "clean"]);
    expect(b.stream.events().map((e) => e.data)).toEqual(["b before"]);
    await until(() => endings.size === 2, 2000, "both handlers to see the cancellation");
    expect(endings.get("a")).toBeInstanceOf(CancelledError);
    expect(endings.get("b")).toBeInstanceOf(CancelledError);
    await expect(streams.get("b")!.send("after")).rejects.toBeInstanceOf(CancelledError);
    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(reported[0]![1]).toBe("a");
    expect(openSlots()).toBe(1);

    await streams.get("c")!.send("c lives");
    const d = await openStream(`${url}/d`);
    await until(() => streams.size === 4, 2000, "a new stream");
    expect(slotOf(streams.get("d")!).engine === engine).toBe(false); // the trapped instance is never handed out again
    await streams.get("d")!.send("d works");
    await until(() => c.stream.events().length === 1 && d.stream.events().length === 1, 2000, "events");
    expect(openSlots()).toBe(2);
    expect(reported).toHaveLength(1);
  });

  it("recovers from a trap met by the keep-alive timer, logging it once with console.error when there is no onError", async () => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const { app, streams, endings } = parking(() => ({ keepAliveMs: 20 }));
      const { url } = await start(app);
      const a = await openStream(`${url}/a`);
      await until(() => streams.size === 1, 2000, "the stream");
      await until(() => a.stream.comments().length >= 1, 2000, "a keep-alive"); // nothing pending now
      const { engine, conn } = slotOf(streams.get("a")!);
      corruptSlot(engine, conn);
      await until(() => a.ended() !== undefined, 2000, "the stream to end");
      expect(a.ended()).toBe("clean");
      await until(() => endings.size === 1, 2000, "the cancellation");
      expect(endings.get("a")).toBeInstanceOf(CancelledError);
      expect(logged).toHaveLength(1);
      expect(logged[0]![1]).toBeInstanceOf(WebAssembly.RuntimeError);
      const b = await openStream(`${url}/b`);
      await until(() => b.stream.comments().length >= 1, 2000, "the new stream's keep-alive");
      expect(slotOf(streams.get("b")!).engine === engine).toBe(false);
      expect(logged).toHaveLength(1);
    } finally {
      console.error = original;
    }
  });

  it("sends `:` keep-alives to an idle stream, none to one with events in time, none when off", async () => {
    const app = new Hono();
    app.get("/idle", (c) => sseResponse(c.req.raw, async (sse) => {
      await sse.send("start");
      await sse.sleep(400);
      await sse.send("stop");
    }, { keepAliveMs: 50 }));
    app.get("/busy", (c) => sseResponse(c.req.raw, async (sse) => {
      for (let i = 0; i < 30; i++) {
        await sse.send({ i });
        await sse.sleep(10);
      }
    }, { keepAliveMs: 150 }));
    app.get("/off", (c) => sseResponse(c.req.raw, async (sse) => {
      await sse.send("start");
      await sse.sleep(200);
    }, { keepAliveMs: 0 }));
    const { port } = await start(app);
    const body = async (path: string) => {
      const client = await rawGet(port, path);
      await client.closed;
      return client.chunks().join("");
    };
    const [idle, busy, off] = await Promise.all([body("/idle"), body("/busy"), body("/off")]);
    expect(idle).toMatch(/^data: start\n\n(:\n){3,8}data: stop\n\n$/);
    expect(busy).not.toContain(":\n");
    expect(busy.match(/^data: /gm)).toHaveLength(30);
    expect(off).toBe("data: start\n\n");
  });

  it("has the core frame keep-alives, on instances shared only by streams with the same interval", async () => {
    const { app, streams } = parking((name) => ({ keepAliveMs: name === "slow" ? 60_000 : 30 }));
    const { url } = await start(app);
    const [a] = [await openStream(`${url}/a`), await openStream(`${url}/b`), await openStream(`${url}/slow`)];
    await until(() => streams.size === 3, 2000, "three streams");
    const [sa, sb, slow] = [slotOf(streams.get("a")!), slotOf(streams.get("b")!), slotOf(streams.get("slow")!)];
    expect(sb.engine === sa.engine).toBe(true);
    expect(slow.engine === sa.engine).toBe(false);
    await until(() => a.stream.comments().length >= 2, 2000, "two keep-alives");
    expect(sa.engine.stats(sa.conn).bytesFramed).toBeGreaterThanOrEqual(2 * ":\n".length); // framed by the core
    expect(slow.engine.stats(slow.conn).bytesFramed).toBe(0);
  });

  it("keeps keep-alives from piling up in the body of a reader that does not pull", async () => {
    const request = new Request("http://localhost/events", { headers: { accept: "text/event-stream" } });
    const response = sseResponse(request, (sse) => sse.sleep(60_000).catch(() => {}), { keepAliveMs: 10, maxEventBytes: 32, highWaterMark: 16 });
    await new Promise((r) => setTimeout(r, 1000)); // ~100 keep-alives due: 200 bytes if nothing held them back
    const reader = response.body!.getReader();
    let queued = 0;
    for (;;) {
      const next = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(r, 5))]);
      if (next === undefined || next.done) break;
      queued += next.value.length;
    }
    await reader.cancel();
    // The body's highWaterMark (16), one more keep-alive, and the core's space (32, then it skips them).
    expect(queued).toBeGreaterThan(16);
    expect(queued).toBeLessThanOrEqual(16 + 2 + 32);
  });

  it("cancels at once a request whose signal aborted before the stream opened, and ends the body of one aborted later", async () => {
    await until(() => openSlots() === 0, 2000, "earlier tests' streams to be released");
    const gone = new AbortController();
    gone.abort();
    let seen: AbortSignal | undefined;
    const early = sseResponse(new Request("http://localhost/a", { headers: { accept: "text/event-stream" }, signal: gone.signal }), async (sse) => {
      seen = sse.signal;
      await sse.sleep(60_000);
    });
    /** A read, or "pending" if the body neither yields nor ends within 2 s. */
    const settle = <T>(read: Promise<T>) => Promise.race([read, new Promise<"pending">((r) => setTimeout(() => r("pending"), 2000))]);
    expect(await settle(early.body!.getReader().read())).toEqual({ done: true, value: undefined });
    await until(() => seen !== undefined, 2000, "the handler to start");
    expect(seen!.aborted).toBe(true);
    expect(openSlots()).toBe(0);

    const later = new AbortController();
    const response = sseResponse(new Request("http://localhost/b", { headers: { accept: "text/event-stream" }, signal: later.signal }), async (sse) => {
      await sse.send("first");
      await sse.sleep(60_000);
    });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: first\n\n");
    later.abort();
    expect(await settle(reader.read())).toEqual({ done: true, value: undefined }); // not left pending
    expect(openSlots()).toBe(0);
  });

  it("refuses options out of range with a RangeError, and sleeps and keep-alives past 2^31 - 1 ms without a timer overflow", async () => {
    const request = () => new Request("http://localhost/events", { headers: { accept: "text/event-stream" } });
    for (const bad of [{ keepAliveMs: -1 }, { keepAliveMs: NaN }, { maxEventBytes: 10 }, { maxEventBytes: 2 ** 31 }, { highWaterMark: 1.5 }]) {
      expect(() => sseResponse(request(), () => {}, bad)).toThrow(RangeError);
    }
    const overflows: string[] = [];
    const onWarning = (w: Error) => void (w.name === "TimeoutOverflowWarning" && overflows.push(w.message));
    process.on("warning", onWarning);
    try {
      const woke: number[] = [];
      const response = sseResponse(request(), async (sse) => {
        await Promise.all([2 ** 31, Infinity].map((ms) => sse.sleep(ms).then(() => woke.push(ms))));
      }, { keepAliveMs: 30 * 24 * 3600 * 1000 });
      const reader = response.body!.getReader();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(woke).toEqual([]);
      await reader.cancel();
      expect(overflows).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("answers 503 to the request whose open met a trap, and 200 to the next", async () => {
    const reported: unknown[] = [];
    // A frame size no other test uses: a fresh instance, whose free list runs in slot order.
    const { app, streams } = parking(() => ({ keepAliveMs: 0, maxEventBytes: 16 * 1024, onError: (e) => reported.push(e) }));
    const { url } = await start(app);
    await openStream(`${url}/a`);
    await until(() => streams.size === 1, 2000, "the stream");
    const { engine, conn } = slotOf(streams.get("a")!);
    // The free list's head is the record after a's: point its successor past the end of memory.
    const view = new DataView(engine.memory.buffer);
    view.setInt32(rowOf(engine, conn) + ROW_BYTES + NEXT_FREE, Math.ceil(view.byteLength / ROW_BYTES) + 1, true);
    const b = await openStream(`${url}/b`);
    expect(b.response.status).toBe(200); // takes the corrupted record; the free list now points nowhere
    const c = await fetch(`${url}/c`);
    expect(c.status).toBe(503); // opening traps
    await c.text();
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(WebAssembly.RuntimeError);
    await until(() => b.ended() === "clean", 2000, "b, on the failed instance, to end");
    const d = await openStream(`${url}/d`);
    expect(d.response.status).toBe(200);
    await until(() => streams.size === 3 && openSlots() === 1, 2000, "only d");
    expect(reported).toHaveLength(1);
  });
});
