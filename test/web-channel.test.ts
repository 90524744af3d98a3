// Channels for sseResponse streams (Hono on @hono/node-server, real sockets): they subscribe,
// get broadcasts byte for byte as withSse streams do, resume from the history after a cut
// with no gap or duplicate, and one that lags is cut alone.
import { serve as honoServe } from "@hono/node-server";
import { EventSource } from "eventsource";
import { Hono } from "hono";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, Channel, sseResponse, withSse, type SseResponseOptions } from "../index.js";
import { openStream, until } from "./helpers/events.js";
import { cutNewest, serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A Hono app on a real socket whose every request subscribes to `channel` until it goes. */
async function honoSubscribers(channel: Channel, options: SseResponseOptions = {}) {
  const seenIds: Array<string | undefined> = [];
  const endings: unknown[] = [];
  const app = new Hono();
  app.get("/", (c) =>
    sseResponse(c.req.raw, async (sse) => {
      seenIds.push(sse.lastEventId);
      channel.subscribe(sse);
      try {
        await sse.sleep(Infinity);
      } catch (e) {
        endings.push(e);
      }
    }, options),
  );
  const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  const sockets: Socket[] = [];
  server.on("connection", (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  closers.push(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, port, sockets, seenIds, endings };
}

describe("Channel with sseResponse streams", () => {
  it("delivers a broadcast to sseResponse and withSse subscribers alike, byte for byte", async () => {
    const channel = new Channel();
    const hono = await honoSubscribers(channel, { keepAliveMs: 0 });
    const node: Running = await serve(withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await sse.closed;
    }, { keepAliveMs: 0 }));
    closers.push(() => node.close());
    const [a, b] = [await rawGet(hono.port, "/"), await rawGet(node.port, "/")];
    await until(() => channel.size === 2, 5000, "both subscribers");
    for (let i = 0; i < 50; i++) channel.send({ i, text: "é\nline" }, i % 2 === 0 ? "even" : {});
    const events = (c: typeof a) => c.chunks().join("").split("\n\n").filter((e) => e !== "");
    await until(() => events(a).length === 50 && events(b).length === 50, 5000, "50 events on each");
    expect(events(a).join("\n\n")).toBe(events(b).join("\n\n"));
    expect(events(a)[0]).toBe('event: even\ndata: {"i":0,"text":"é\\nline"}');
    a.socket.destroy();
    b.socket.destroy();
    await until(() => channel.size === 0, 5000, "both to leave");
  });

  it("resumes an EventSource from the history after every cut, with no gap or duplicate", async () => {
    const channel = new Channel({ history: { maxEvents: 1000, maxBytes: 1 << 18 }, retry: 20 });
    const { url, sockets, seenIds } = await honoSubscribers(channel, { keepAliveMs: 0 });
    const es = new EventSource(url);
    closers.push(async () => es.close());
    const got: Array<{ id: string; data: string }> = [];
    es.addEventListener("message", (e) => got.push({ id: e.lastEventId, data: e.data }));
    const sent: string[] = [];
    const burst = (k: number) => {
      for (let i = 0; i < k; i++) {
        const data = sent.length % 7 === 3 ? `big ${sent.length} ${"x".repeat(20_000)}` : `event ${sent.length}`;
        sent.push(data);
        channel.send(data);
      }
    };
    await until(() => channel.size === 1, 5000, "the first connection");
    const cuts = 4;
    for (let cut = 0; cut < cuts; cut++) {
      burst(10);
      await until(() => got.length === sent.length, 5000, "the live events");
      burst(10); // in flight when the connection dies
      await new Promise((r) => setImmediate(r));
      cutNewest(sockets, cut);
      await until(() => channel.size === 0, 5000, "the server to see the cut");
      burst(5); // sent while the client is away: only a replay brings these
      await until(() => channel.size === 1, 5000, "the reconnect");
    }
    burst(10);
    await until(() => got.length >= sent.length, 10_000, "every event");
    expect(got.map((e) => e.data)).toEqual(sent);
    expect(new Set(got.map((e) => e.id)).size).toBe(sent.length);
    expect(seenIds).toHaveLength(cuts + 1);
    for (const id of seenIds.slice(1)) expect(got.map((e) => e.id)).toContain(id);
  });

  it("cuts a subscriber that falls highWaterMark behind, alone: the others keep getting every event", async () => {
    const channel = new Channel();
    const { url, port, endings } = await honoSubscribers(channel, { keepAliveMs: 0, highWaterMark: 16 * 1024, stallTimeoutMs: 0 });
    const frozen = await rawGet(port, "/");
    frozen.socket.pause();
    const live = await openStream(url);
    await until(() => channel.size === 2, 5000, "both subscribers");
    const big = "y".repeat(8 * 1024);
    // 32 KiB a turn, under the bound (highWaterMark + maxEventBytes, 80 KiB): a reader that
    // keeps up is never cut; 10 MiB in all, more than the kernel buffers of the frozen one.
    for (let i = 0; i < 1200; i++) {
      channel.send(`${i} ${big}`);
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => endings.length === 1 && channel.size === 1, 10_000, "the frozen subscriber to be cut");
    expect(endings[0]).toBeInstanceOf(CancelledError);
    expect(String((endings[0] as Error).message)).toMatch(/highWaterMark/);
    await until(() => live.stream.events().length === 1200, 10_000, "every event on the live one");
    expect(live.stream.events().map((e) => e.data.split(" ")[0])).toEqual(Array.from({ length: 1200 }, (_, i) => String(i)));
    frozen.socket.destroy();
  });
});
