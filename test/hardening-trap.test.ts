// A core that traps: the state of a live wasm instance is corrupted through its exported
// memory, so the next call into it does an out-of-bounds access (a real WebAssembly.RuntimeError).
// The host ends that instance's streams cleanly (handlers cancelled, responses ended),
// replaces the instance, keeps serving, and reports the fault once.
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "../bindings/index.js";
import { CancelledError, Channel, withSse, type Sse } from "../host/index.js";
import { openStream as open, reader, until } from "./helpers/events.js";
import { slotOf } from "./helpers/slot.js";
import { serve, type Running } from "./helpers/listen.js";
import { corruptSlot, NEXT_FREE, ROW_BYTES, rowOf } from "./helpers/trap.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A handler that parks every stream under its path and records how it ended. */
function parking() {
  const streams = new Map<string, Sse>();
  const endings = new Map<string, unknown>();
  const handler = async (req: IncomingMessage, sse: Sse) => {
    streams.set(req.url!, sse);
    try {
      await sse.sleep(60_000);
    } catch (e) {
      endings.set(req.url!, e);
      throw e;
    }
  };
  return { streams, endings, handler };
}

describe("a trap in a stream's core instance", () => {
  it("ends that instance's streams cleanly, spares the others, serves new clients, and reports once", async () => {
    const { streams, endings, handler } = parking();
    const reported: Array<[unknown, string | undefined]> = [];
    const listener = withSse(handler, { connectionsPerEngine: 2, keepAliveMs: 0, onError: (e, req) => reported.push([e, req.url]) });
    running = await serve(listener);
    const [a, b, c] = [await open(`${running.url}/a`), await open(`${running.url}/b`), await open(`${running.url}/c`)];
    await until(() => streams.size === 3, 2000, "three streams");
    expect(slotOf(streams.get("/a")!).engine).toBe(slotOf(streams.get("/b")!).engine);
    expect(slotOf(streams.get("/c")!).engine).not.toBe(slotOf(streams.get("/a")!).engine);
    await streams.get("/b")!.send("b before");
    await until(() => b.stream.events().length === 1, 2000, "b's first event");

    const { engine, conn } = slotOf(streams.get("/a")!);
    corruptSlot(engine, conn);
    expect(() => engine.send(conn, "probe")).toThrow(WebAssembly.RuntimeError); // the corruption is real

    await expect(streams.get("/a")!.send("boom")).rejects.toBeInstanceOf(CancelledError);
    await until(() => a.ended() !== undefined && b.ended() !== undefined, 2000, "a and b to end");
    expect([a.ended(), b.ended()]).toEqual(["clean", "clean"]);
    expect(b.stream.events().map((e) => e.data)).toEqual(["b before"]);
    await until(() => endings.size === 2, 2000, "both handlers to see the cancellation");
    expect(endings.get("/a")).toBeInstanceOf(CancelledError);
    expect(endings.get("/b")).toBeInstanceOf(CancelledError);
    await expect(streams.get("/b")!.send("after")).rejects.toBeInstanceOf(CancelledError);

    expect(reported).toHaveLength(1);
    expect(reported[0]![0]).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(reported[0]![1]).toBe("/a");
    expect(listener.openConnections).toBe(1);

    await streams.get("/c")!.send("c lives");
    const [d, e] = [await open(`${running.url}/d`), await open(`${running.url}/e`)];
    await until(() => streams.size === 5, 2000, "two new streams");
    expect(slotOf(streams.get("/d")!).engine).not.toBe(engine); // a fresh instance in the old one's place
    await streams.get("/d")!.send("d works");
    await streams.get("/e")!.send("e works");
    await until(() => c.stream.events().length === 1 && d.stream.events().length === 1 && e.stream.events().length === 1, 2000, "events");
    expect(listener.openConnections).toBe(3);
    expect(reported).toHaveLength(1);
    console.log(`trap: 2 streams ended cleanly, 1 spared, 2 new served, ${reported.length} report`);
  });

  it("recovers from a trap met by the keep-alive timer, logging it once with console.error when there is no onError", async () => {
    const { streams, endings, handler } = parking();
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const listener = withSse(handler, { keepAliveMs: 20 });
      running = await serve(listener);
      const a = await open(`${running.url}/a`);
      await until(() => streams.size === 1, 2000, "the stream");
      await until(() => a.stream.comments().length >= 1, 2000, "a keep-alive"); // nothing pending now
      const { engine, conn } = slotOf(streams.get("/a")!);
      corruptSlot(engine, conn);
      await until(() => a.ended() !== undefined, 2000, "the stream to end");
      expect(a.ended()).toBe("clean");
      await until(() => endings.size === 1, 2000, "the cancellation");
      expect(endings.get("/a")).toBeInstanceOf(CancelledError);
      expect(logged).toHaveLength(1);
      expect(logged[0]![1]).toBeInstanceOf(WebAssembly.RuntimeError);
      const b = await open(`${running.url}/b`);
      await until(() => b.stream.comments().length >= 1, 2000, "the new stream's keep-alive");
      expect(listener.openConnections).toBe(1);
      expect(logged).toHaveLength(1);
    } finally {
      console.error = original;
    }
  });

  it("answers 503 to the request whose open met the trap, and 200 to the next", async () => {
    const { streams, handler } = parking();
    const reported: unknown[] = [];
    const listener = withSse(handler, { connectionsPerEngine: 4, keepAliveMs: 0, onError: (e) => reported.push(e) });
    running = await serve(listener);
    await open(`${running.url}/a`);
    await until(() => streams.size === 1, 2000, "the stream");
    const { engine, conn } = slotOf(streams.get("/a")!);
    // The free list's head is the record after a's: point its successor past the end of memory.
    const next = rowOf(engine, conn) + ROW_BYTES;
    const view = new DataView(engine.memory.buffer);
    view.setInt32(next + NEXT_FREE, Math.ceil(view.byteLength / ROW_BYTES) + 1, true);
    const b = await open(`${running.url}/b`);
    expect(b.response.status).toBe(200); // takes the corrupted record; the free list now points nowhere
    const c = await fetch(`${running.url}/c`);
    expect(c.status).toBe(503); // opening traps
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(WebAssembly.RuntimeError);
    await until(() => b.ended() === "clean", 2000, "b, on the failed instance, to end");
    const d = await open(`${running.url}/d`);
    expect(d.response.status).toBe(200);
    await until(() => listener.openConnections === 1, 2000, "only d");
    expect(reported).toHaveLength(1);
  });
});

describe("a trap in a channel's core", () => {
  it("is thrown from the send that met it; the channel goes on with a fresh core and an empty history", async () => {
    const channel = new Channel({ history: { maxEvents: 10, maxBytes: 4096 } });
    running = await serve(withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await sse.closed;
    }));
    channel.send("one");
    const oldId = channel.lastId!;
    const c = await open(running.url);
    await until(() => channel.size === 1, 2000, "the subscriber");
    const inner = channel as unknown as { engine: Engine; conn: number };
    corruptSlot(inner.engine, inner.conn);
    expect(() => channel.send("lost")).toThrow(WebAssembly.RuntimeError);
    expect(channel.historySize).toBe(0);
    expect(channel.send("two")).toBe(1);
    await until(() => c.stream.events().length === 1, 2000, "the event after the trap");
    expect(c.stream.events().map((e) => e.data)).toEqual(["two"]);
    // A client resuming from before the trap is told its place is gone.
    const resumed = await fetch(running.url, { headers: { "Last-Event-ID": oldId } });
    const body = (resumed.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const first = reader();
    first.feed((await body.next()).value as Uint8Array);
    expect(first.events().map((e) => [e.event, e.id])).toEqual([["reset", channel.lastId]]);
    await body.return?.();
  });
});
