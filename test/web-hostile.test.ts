// sseResponse against hostile or careless code around it (found by an adversarial review of
// the one host layer): a body reader that writes to or transfers its chunks, a subscriber that
// pulls while broadcasts and awaited sends pile up, a handler that tampers with the promise
// send() returned, a caller whose Request is collected while its signal lives, and listeners
// left on a request after its stream ended.
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { Channel, sseResponse, type Sse } from "../index.js";
import { openSlots } from "../host/web/response.js";
import { until } from "./helpers/events.js";
import { heapAfterGc } from "./helpers/heap.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const request = (init: RequestInit = {}) => new Request("http://x/", { ...init, headers: { accept: "text/event-stream" } });

describe("sseResponse and the code around it", () => {
  it("gives every body its own copy of a broadcast: a reader that fills or transfers its chunk changes nobody else's", async () => {
    const channel = new Channel({ retry: 1000 });
    const subscriber = () => sseResponse(request(), async (sse) => {
      channel.subscribe(sse);
      await sse.closed;
    }).body!.getReader();
    const [a, b] = [subscriber(), subscriber()];
    await sleep(10);
    (await a.read()).value!.fill(0x58); // the retry frame, as A's reader got it
    expect(decode((await b.read()).value)).toBe("retry: 1000\n\n");
    channel.send("news");
    await sleep(10);
    const news = (await a.read()).value!;
    structuredClone(news, { transfer: [news.buffer] }); // detaches A's chunk
    expect(decode((await b.read()).value)).toBe("data: news\n\n");
    const c = subscriber(); // a later subscriber still gets the channel's retry frame intact
    await sleep(10);
    expect(decode((await c.read()).value)).toBe("retry: 1000\n\n");
    await Promise.all([a.cancel(), b.cancel(), c.cancel()]);
  });

  it("hands a body none of the buffer its engine copies other streams' bytes into: a reader that transfers its chunk's buffer sees and breaks nothing else", async () => {
    const streams = ["a", "b"].map((name) =>
      sseResponse(request(), async (sse) => {
        for (let i = 0; i < 3; i++) {
          await sse.send(`${name}${i} ${"x".repeat(100)}`); // past 64 bytes, under 8 KiB: copied out into the engine's slab
          await sleep(5);
        }
      }).body!.getReader(),
    );
    const [a, b] = streams as [ReadableStreamDefaultReader<Uint8Array>, ReadableStreamDefaultReader<Uint8Array>];
    const first = (await a.read()).value!;
    expect(first.byteLength).toBe(first.buffer.byteLength); // its own buffer, not a window into a shared one
    structuredClone(first, { transfer: [first.buffer] });
    let text = "";
    for (let r = await b.read(); !r.done; r = await b.read()) text += decode(r.value);
    expect(text).toBe([0, 1, 2].map((i) => `data: b${i} ${"x".repeat(100)}\n\n`).join(""));
    for (let r = await a.read(); !r.done; r = await a.read());
  });

  it("does not cut a subscriber within its bound when its reader pulls after broadcasts and awaited sends", async () => {
    const channel = new Channel();
    const ten = "b".repeat(10_000);
    let sent = false;
    const response = sseResponse(request(), async (sse) => {
      channel.subscribe(sse);
      await sse.send("a".repeat(20_000)); // the body is full (highWaterMark 16 KiB)
      await sleep(10);
      for (let i = 0; i < 5; i++) channel.send(ten); // 50 KB of broadcast: within 16 KiB + 64 KiB
      // Awaited, so never counted: copied out of the core, under one batch with what the full body holds.
      for (let i = 0; i < 4; i++) await sse.send(ten);
      sent = true;
      await sse.closed;
    }, { highWaterMark: 16 * 1024, maxEventBytes: 64 * 1024, keepAliveMs: 0, stallTimeoutMs: 0 });
    const reader = response.body!.getReader();
    await until(() => sent, 5000, "the sends");
    // Only now does the reader pull: a cut would error the body here.
    let text = "";
    while ((text.match(/data: /g) ?? []).length < 10) text += decode((await reader.read()).value);
    expect(text.split("\n\n").filter((e) => e !== "")).toHaveLength(10);
    await reader.cancel();
  });

  it("shares no promise between streams: a handler that gives the one send() returned a `then` of its own hangs no other stream", async () => {
    const a = sseResponse(request(), async (sse) => {
      const p = sse.send("a") as unknown as { then: unknown; constructor: unknown };
      p.then = () => {};
      p.constructor = Object;
    });
    expect(await a.text()).toBe("data: a\n\n");
    const b = sseResponse(request(), async (sse: Sse) => {
      await sse.send("b");
      await Promise.all([sse.send("c")]);
    });
    expect(await b.text()).toBe("data: b\n\ndata: c\n\n");
  });

  it("cancels every handler when the caller aborts its own signal, even after its Requests were collected", async () => {
    const base = openSlots();
    const controllers: AbortController[] = [];
    const readers: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
    let cancelled = 0;
    for (let i = 0; i < 50; i++) {
      const controller = new AbortController();
      controllers.push(controller);
      // Only the body's reader is kept (as a server keeps it), not the Request.
      readers.push(sseResponse(request({ signal: controller.signal }), async (sse) => {
        try {
          await sse.sleep(60_000);
        } catch {
          cancelled++;
        }
      }, { keepAliveMs: 0 }).body!.getReader());
    }
    await sleep(20);
    heapAfterGc();
    await sleep(20);
    heapAfterGc();
    for (const controller of controllers) controller.abort();
    await until(() => cancelled === 50, 5000, "every handler to be cancelled");
    expect(openSlots()).toBe(base);
    expect(readers).toHaveLength(50);
  });

  it("leaves no listener on the request's signal once its stream ended", async () => {
    const req = request({ signal: new AbortController().signal });
    const response = sseResponse(req, (sse) => sse.send("done"), { keepAliveMs: 0 });
    expect(getEventListeners(req.signal, "abort").length).toBeGreaterThan(0);
    expect(await response.text()).toBe("data: done\n\n");
    expect(getEventListeners(req.signal, "abort")).toHaveLength(0);
  });
});
