// Broadcast: framed once, written to every subscriber, filtered per subscriber, left
// automatically on disconnect; a client that stops reading is dropped while the others
// receive every event.
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidFieldError, JsonValueError } from "../bindings/index.js";
import { CancelledError, Channel, withSse, type Sse } from "../host/index.js";
import { reader, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Subscribes each request to `channel` (with the filter named by ?room=) until it goes. */
function subscriber(channel: Channel, options = {}) {
  return withSse(async (req: IncomingMessage, sse: Sse) => {
    const room = new URL(req.url ?? "/", "http://x").searchParams.get("room");
    channel.subscribe(sse, room === null ? {} : { filter: (data) => (data as { room?: string }).room === room });
    await sse.closed;
  }, options);
}

/** An open fetch stream that records every event as it arrives. */
async function open(url: string) {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal, headers: { Accept: "text/event-stream" } });
  const stream = reader();
  const done = (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
    } catch {
      // aborted by the test
    }
  })();
  return { stream, close: async () => (abort.abort(), await done), done };
}

describe("Channel", () => {
  it("sends each event to every subscriber, identical bytes, and counts them", async () => {
    const channel = new Channel();
    running = await serve(subscriber(channel));
    const clients = await Promise.all([1, 2, 3].map(() => rawGet(running!.port, "/")));
    await until(() => channel.size === 3, 2000, "three subscribers");
    expect(channel.send({ n: 1 }, { id: "1" })).toBe(3);
    expect(channel.send("two", { event: "second", retry: 500 })).toBe(3);
    await until(() => clients.every((c) => c.chunks().join("").includes("data: two")), 2000, "both events");
    const bodies = clients.map((c) => c.chunks().join(""));
    expect(bodies[0]).toBe('id: 1\ndata: {"n":1}\n\nevent: second\nretry: 500\ndata: two\n\n');
    expect(new Set(bodies).size).toBe(1);
    for (const c of clients) c.socket.destroy();
  });

  it("applies each subscriber's filter", async () => {
    const channel = new Channel();
    running = await serve(subscriber(channel));
    const red = await open(`${running.url}/?room=red`);
    const blue = await open(`${running.url}/?room=blue`);
    const all = await open(`${running.url}/`);
    await until(() => channel.size === 3, 2000, "three subscribers");
    expect(channel.send({ room: "red", text: "r1" })).toBe(2);
    expect(channel.send({ room: "blue", text: "b1" })).toBe(2);
    expect(channel.send({ room: "red", text: "r2" })).toBe(2);
    await until(() => all.stream.events().length === 3, 2000, "three events for the unfiltered one");
    const texts = (c: typeof red) => c.stream.events().map((e) => (JSON.parse(e.data) as { text: string }).text);
    await until(() => texts(red).length === 2 && texts(blue).length === 1, 2000, "filtered events");
    expect(texts(red)).toEqual(["r1", "r2"]);
    expect(texts(blue)).toEqual(["b1"]);
    expect(texts(all)).toEqual(["r1", "b1", "r2"]);
    await Promise.all([red.close(), blue.close(), all.close()]);
  });

  it("drops a subscriber when its client goes, and when its handler ends", async () => {
    const channel = new Channel();
    const listener = subscriber(channel);
    let ending: (() => void) | undefined;
    const brief = withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await new Promise<void>((resolve) => (ending = resolve));
    });
    running = await serve((req: { url?: string }, res: never) => (req.url === "/brief" ? brief : listener)(req as never, res));
    const a = await open(`${running.url}/`);
    const b = await open(`${running.url}/brief`);
    await until(() => channel.size === 2, 2000, "two subscribers");
    await a.close();
    await until(() => channel.size === 1, 2000, "the aborted one to leave");
    expect(listener.openConnections).toBe(0);
    ending!();
    await b.done;
    await until(() => channel.size === 0, 2000, "the ended one to leave");
    expect(channel.send("nobody")).toBe(0);
  });

  it("unsubscribes with the function subscribe returns; subscribing again replaces the filter", async () => {
    const channel = new Channel();
    const got: string[] = [];
    let unsubscribe: (() => void) | undefined;
    running = await serve(
      withSse(async (_req, sse) => {
        channel.subscribe(sse, { filter: () => false });
        unsubscribe = channel.subscribe(sse); // replaces: everything passes
        await sse.closed;
      }),
    );
    const c = await open(running.url);
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send("one");
    await until(() => c.stream.events().length === 1, 2000, "one event");
    unsubscribe!();
    expect(channel.size).toBe(0);
    expect(channel.send("two")).toBe(0);
    got.push(...c.stream.events().map((e) => e.data));
    expect(got).toEqual(["one"]);
    await c.close();
  });

  it("throws the typed error for bad input and sends nothing; the channel stays usable", async () => {
    const channel = new Channel({ maxEventBytes: 1024 });
    running = await serve(subscriber(channel));
    const c = await open(running.url);
    await until(() => channel.size === 1, 2000, "the subscriber");
    expect(() => channel.send("x", { event: "a\nb" })).toThrow(InvalidFieldError);
    expect(() => channel.send("x", { id: "\0" })).toThrow(InvalidFieldError);
    expect(() => channel.send("x", { retry: -1 })).toThrow(InvalidFieldError);
    expect(() => channel.send({ big: 1n })).toThrow(JsonValueError);
    expect(() => channel.send("y".repeat(2000))).toThrow(/larger than/);
    expect(channel.send("fine")).toBe(1);
    await until(() => c.stream.events().length === 1, 2000, "the good event");
    expect(c.stream.items).toEqual([{ kind: "event", event: "message", data: "fine", id: undefined }]);
    await c.close();
  });

  it("delivers to everyone else when a filter throws, then throws that error", async () => {
    const channel = new Channel();
    const bug = new Error("filter bug");
    running = await serve(
      withSse(async (req: IncomingMessage, sse) => {
        channel.subscribe(sse, req.url === "/bad" ? { filter: () => { throw bug; } } : {});
        await sse.closed;
      }),
    );
    const bad = await open(`${running.url}/bad`);
    const good = await open(`${running.url}/good`);
    await until(() => channel.size === 2, 2000, "two subscribers");
    expect(() => channel.send("hi")).toThrow(bug);
    await until(() => good.stream.events().length === 1, 2000, "the good subscriber's event");
    expect(bad.stream.events()).toEqual([]);
    await Promise.all([bad.close(), good.close()]);
  });

  it("refuses what is not a live sse object", async () => {
    const channel = new Channel();
    expect(() => channel.subscribe({} as Sse)).toThrow(TypeError);
    let kept: Sse | undefined;
    running = await serve(withSse(async (_req, sse) => void (kept = sse)));
    await (await fetch(running.url)).text();
    await kept!.closed;
    expect(() => channel.subscribe(kept!)).toThrow(CancelledError);
  });

  it("keeps a stream's own events and broadcast events in call order, in one write per turn", async () => {
    const channel = new Channel();
    running = await serve(
      withSse(async (_req, sse) => {
        channel.subscribe(sse);
        void sse.send("own-1");
        channel.send("broadcast-1");
        void sse.send("own-2");
        channel.send("broadcast-2");
        await sse.send("own-3");
      }),
    );
    const client = await rawGet(running.port, "/");
    await client.closed;
    expect(client.chunks()).toEqual(["data: own-1\n\ndata: broadcast-1\n\ndata: own-2\n\ndata: broadcast-2\n\ndata: own-3\n\n"]);
  });

  it("drops a client that stopped reading past maxBufferedBytes while a fast one gets every event", async () => {
    const channel = new Channel();
    let slowCancelled: unknown;
    const listener = withSse(
      async (req: IncomingMessage, sse) => {
        channel.subscribe(sse);
        try {
          await sse.closed;
          sse.signal.throwIfAborted();
        } catch (e) {
          if (req.url === "/slow") slowCancelled = e;
        }
      },
      { maxBufferedBytes: 256 * 1024 },
    );
    running = await serve(listener);
    const slow = await rawGet(running.port, "/slow");
    slow.socket.pause();
    const fast = await open(`${running.url}/fast`);
    await until(() => channel.size === 2, 2000, "two subscribers");
    const payload = "p".repeat(4096);
    let sent = 0;
    // Send until the slow client is dropped; the fast one keeps up (it reads as it goes).
    while (channel.size === 2 && sent < 20_000) {
      channel.send(payload, { id: String(sent) });
      sent++;
      if (sent % 16 === 0) await until(() => fast.stream.events().length >= sent - 32, 5000, "the fast client");
    }
    expect(channel.size).toBe(1);
    await until(() => slowCancelled !== undefined, 2000, "the slow handler's cancellation");
    expect(slowCancelled).toBeInstanceOf(CancelledError);
    slow.socket.resume(); // reading again, it finds the server hung up
    await slow.closed;
    for (let i = 0; i < 50; i++) channel.send(payload, { id: String(sent++) });
    await until(() => fast.stream.events().length === sent, 5000, "every event at the fast client");
    expect(fast.stream.events().map((e) => e.id)).toEqual(Array.from({ length: sent }, (_, i) => String(i)));
    expect(listener.openConnections).toBe(1);
    await fast.close();
  });
});
