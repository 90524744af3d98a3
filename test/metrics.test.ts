// Stats (issue #17): every counter of withSse's stats(), sseStats(), Channel.stats() and
// SharedChannel.stats() moves with a workload that makes it move, by exactly what it did, and
// every other one stays still (each check compares every field of a before/after delta, so an
// unrelated counter moving fails it). Real sockets and real clients: raw HTTP on 127.0.0.1 (the
// body bytes a client received are what bytesWritten must say), Hono on @hono/node-server, a
// real redis-server. Then the diagnostics_channel events, and prometheusText checked by promtool.
import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { serve as honoServe } from "@hono/node-server";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  Channel,
  prometheusText,
  PROMETHEUS_CONTENT_TYPE,
  sseResponse,
  sseStats,
  withSse,
  type Sse,
  type SseListener,
  type WebSse,
  type WithSseOptions,
} from "../host/index.js";
import { BrokerError, SharedChannel } from "../host/redis/index.js";
import { reader, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { between, bodyBytes, bodyText, expectDelta, oneOf, parseExposition, promtool, sampleOf, zeroStats } from "./helpers/metrics.js";
import { rawGet, type RawClient } from "./helpers/raw.js";
import { startRedis, type RedisServer } from "./helpers/redis-server.js";
import { slotOf } from "./helpers/slot.js";
import { corruptSlot, NEXT_FREE, ROW_BYTES, rowOf } from "./helpers/trap.js";
import { later } from "./helpers/cleanups.js";

const BIG = "x".repeat(32 * 1024);
const STALL_MS = 300;
const CUT_WITHIN_MS = STALL_MS + 10_000;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));


/** A withSse listener on node:http, with the server side's responses kept (to read what Node holds). */
async function serveSse(listener: SseListener<IncomingMessage>): Promise<Running & { responses: ServerResponse[] }> {
  const responses: ServerResponse[] = [];
  const running = await serve((req: IncomingMessage, res: ServerResponse) => {
    responses.push(res);
    listener(req, res);
  });
  later(() => running.close());
  return Object.assign(running, { responses });
}

/** A raw client (Connection: close, so the end of the response is the end of the socket), destroyed after the test. */
async function raw(port: number, path = "/", headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await rawGet(port, path, headers);
  later(() => client.socket.destroy());
  return client;
}

/** A raw client that stops reading once the response head is in. */
async function frozen(port: number, path = "/", headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await raw(port, path, headers);
  await until(() => client.text().includes("\r\n\r\n"), 5000, "the response head");
  client.socket.pause();
  return client;
}

/** Resumes a frozen client after the server cut it, and waits for the socket to close: what it received by then is all it gets. */
async function drained(client: RawClient): Promise<number> {
  client.socket.resume(); // a paused socket does not see the end
  await client.closed;
  return bodyBytes(client.text());
}

const events = (client: RawClient) => (bodyText(client.text()).match(/\n\n/g) ?? []).length;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Collects onError's reports; the test asserts there were none unless it expects some. */
function errors() {
  const seen: unknown[] = [];
  return { seen, onError: (e: unknown) => void seen.push(e) };
}

/** A handler whose /path decides what it does; requests and outcomes kept by path. */
type Route = (sse: Sse, req: IncomingMessage) => Promise<unknown>;

function routed(routes: Record<string, Route>, options: WithSseOptions<IncomingMessage> = {}) {
  const requests = new Map<string, IncomingMessage>();
  const sses = new Map<string, Sse>();
  const outcomes = new Map<string, unknown>();
  const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
    const path = req.url!.split("?")[0]!;
    requests.set(path, req);
    sses.set(path, sse);
    try {
      await routes[path.replace(/\d+$/, "")]!(sse, req);
      outcomes.set(path, "returned");
    } catch (e) {
      outcomes.set(path, e);
    }
  }, { keepAliveMs: 0, ...options });
  return { listener, requests, sses, outcomes };
}

/** Sends one event and parks until cancelled. */
const park: Route = async (sse) => {
  await sse.send("hello");
  await sse.sleep(600_000);
};

/** Sends unawaited, one 32 KiB event a turn, until the stream is cut; counts the sends framed. */
function flooder(counts: { framed: number }): Route {
  return async (sse) => {
    while (!sse.signal.aborted) {
      sse.send(BIG).then(() => void counts.framed++, () => {});
      await tick();
    }
  };
}

/** Sends awaited 32 KiB events until cancelled (awaited sends never count towards maxBufferedBytes); counts them. */
function blockingSender(counts: { framed: number; blockedSince?: number }): Route {
  return async (sse) => {
    for (;;) {
      const sent = sse.send(BIG);
      // Still waiting after a whole turn (a flush ran): the client's buffers are full.
      if (!(await Promise.race([sent.then(() => true), tick().then(() => false)]))) counts.blockedSince ??= performance.now();
      await sent;
      counts.framed++;
      counts.blockedSince = undefined;
    }
  };
}

describe("withSse stats() on node:http", () => {
  it("starts at zero; n streams that return: opened, ended.returned, events, comments, bytesWritten = the bytes the clients received", async () => {
    const { seen, onError } = errors();
    const K = 5;
    const listener = withSse(async (_req, sse) => {
      for (let i = 0; i < K; i++) {
        await sse.send({ i, pad: "p".repeat(i * 100) }, { id: String(i) });
        await sse.sleep(1); // a flush of its own
      }
      await sse.comment("bye");
    }, { keepAliveMs: 0, onError });
    const before = listener.stats();
    expect(before).toEqual(zeroStats());
    const running = await serveSse(listener);
    const n = 4;
    const clients = await Promise.all(Array.from({ length: n }, () => raw(running.port)));
    await Promise.all(clients.map((c) => c.closed));
    await until(() => listener.stats().open === 0, 5000, "every stream to end");
    const after = listener.stats();

    const bodies = clients.map((c) => bodyText(c.text()));
    for (const body of bodies) {
      const parsed = reader();
      parsed.feed(body);
      expect(parsed.events()).toHaveLength(K);
      expect(parsed.comments()).toEqual(["bye"]);
    }
    const received = sum(clients.map((c) => bodyBytes(c.text())));
    const largestFrame = Math.max(...bodies[0]!.split("\n\n").map((f) => f.length + 2));
    expectDelta(before, after, {
      opened: n,
      ended: { returned: n },
      events: n * K,
      comments: n,
      bytesWritten: received,
      bytesBufferedPeak: between(largestFrame, bodies[0]!.length),
      engines: 1, // the pool keeps one engine once it made one
    });
    expect(seen).toEqual([]);
  });

  it("clients that disconnect: ended.client_gone; bytesWritten = what they had received", async () => {
    const { listener, outcomes } = routed({ "/": park });
    const before = listener.stats();
    const running = await serveSse(listener);
    const m = 3;
    const clients = await Promise.all(Array.from({ length: m }, () => raw(running.port)));
    await until(() => clients.every((c) => events(c) === 1), 5000, "each client's event");
    expectDelta(before, listener.stats(), { open: m, opened: m, events: m, bytesWritten: sum(clients.map((c) => bodyBytes(c.text()))), bytesBufferedPeak: "data: hello\n\n".length, engines: 1, slotsInUse: m });
    for (const c of clients) c.socket.destroy();
    await until(() => listener.stats().open === 0, 5000, "every stream to end");
    expectDelta(before, listener.stats(), {
      opened: m,
      ended: { client_gone: m },
      events: m,
      bytesWritten: sum(clients.map((c) => bodyBytes(c.text()))),
      bytesBufferedPeak: "data: hello\n\n".length, // one flush each, of one frame, with nothing held before it
      engines: 1,
    });
    expect(outcomes.get("/")).toBeInstanceOf(CancelledError);
  });

  it("a frozen reader of unawaited sends is cut at maxBufferedBytes: ended.buffer_full; events = the sends framed", async () => {
    const counts = { framed: 0 };
    const maxBufferedBytes = 256 * 1024;
    const { listener, outcomes } = routed({ "/": flooder(counts) }, { maxBufferedBytes, stallTimeoutMs: 0 });
    const before = listener.stats();
    const running = await serveSse(listener);
    const client = await frozen(running.port);
    await until(() => listener.stats().open === 0, 20_000, "the frozen reader to be cut");
    const received = await drained(client);
    await until(() => outcomes.has("/"), 2000, "the handler to return");
    const after = listener.stats();
    expectDelta(before, after, {
      opened: 1,
      ended: { buffer_full: 1 },
      events: counts.framed,
      // Bytes handed to Node: the client got them, but for what Node still held when the connection was cut.
      bytesWritten: between(received, received + 2 * maxBufferedBytes),
      bytesBufferedPeak: between(BIG.length, maxBufferedBytes + 2 * 64 * 1024),
      engines: 1,
    });
    expect(after.bytesWritten).toBeGreaterThan(maxBufferedBytes); // the kernel took more than the bound before Node held any
    expect(counts.framed).toBeGreaterThan(8);
  });

  it("bytesBuffered is what the open streams hold now (Node's buffer for a frozen reader), 0 once they are gone", async () => {
    const counts: { framed: number; blockedSince?: number } = { framed: 0 };
    const { listener } = routed({ "/": blockingSender(counts) }, { stallTimeoutMs: 0 });
    const before = listener.stats();
    const running = await serveSse(listener);
    const client = await frozen(running.port);
    await until(() => counts.blockedSince !== undefined && performance.now() - counts.blockedSince > 200, 20_000, "a send to block");
    const held = running.responses[0]!.writableLength;
    const now = listener.stats();
    expect(held).toBeGreaterThan(0);
    expectDelta(before, now, {
      open: 1,
      opened: 1,
      events: counts.framed, // the blocked send waits, unframed, for room in the core
      bytesWritten: between((counts.framed - 2) * (BIG.length + 8), counts.framed * (BIG.length + 8)),
      // What Node holds, and the events framed after it filled: each larger than a connection's
      // own space in the core, so copied out at once, until they and what Node held then pass
      // one batch (64 KiB): none, one or two. The blocked send's event costs nothing: an awaited
      // send never counts.
      bytesBuffered: oneOf([0, 1, 2].map((k) => held + k * (BIG.length + 8))),
      bytesBufferedPeak: between(BIG.length + 8, counts.framed * (BIG.length + 8)),
      engines: 1,
      slotsInUse: 1,
    });
    client.socket.destroy();
    await until(() => listener.stats().open === 0, 5000, "the stream to end");
    const after = listener.stats();
    expectDelta(before, after, {
      opened: 1,
      ended: { client_gone: 1 },
      events: now.events,
      bytesWritten: now.bytesWritten,
      bytesBufferedPeak: now.bytesBufferedPeak,
      engines: 1,
    });
  });

  it("a frozen reader that takes nothing for stallTimeoutMs: ended.stalled", async () => {
    const counts: { framed: number; blockedSince?: number } = { framed: 0 };
    const { listener, outcomes } = routed({ "/": blockingSender(counts) }, { stallTimeoutMs: STALL_MS });
    const before = listener.stats();
    const running = await serveSse(listener);
    const client = await frozen(running.port);
    await until(() => listener.stats().open === 0, CUT_WITHIN_MS, "the stalled reader to be cut");
    const received = await drained(client);
    await until(() => outcomes.has("/"), 2000, "the handler to end");
    expect(outcomes.get("/")).toBeInstanceOf(CancelledError);
    const after = listener.stats();
    expectDelta(before, after, {
      opened: 1,
      ended: { stalled: 1 },
      events: counts.framed, // the last send was cancelled while it waited, unframed, for room
      bytesWritten: between(received, received + 2 * 1024 * 1024),
      bytesBufferedPeak: after.bytesBufferedPeak,
      engines: 1,
    });
    expect(after.bytesBufferedPeak).toBeGreaterThanOrEqual(BIG.length);
  });

  it("listener.close(): ended.server_closing for every open stream, the last event in bytesWritten but not in events, 503 after", async () => {
    const { listener, outcomes } = routed({ "/": park });
    const before = listener.stats();
    const running = await serveSse(listener);
    const clients = await Promise.all([1, 2, 3].map(() => raw(running.port)));
    await until(() => clients.every((c) => events(c) === 1), 5000, "each client's event");
    const report = await listener.close({ event: "bye", data: "closing" });
    expect(report).toEqual({ streams: 3, destroyed: 0 });
    await Promise.all(clients.map((c) => c.closed));
    for (const c of clients) expect(bodyText(c.text())).toBe("data: hello\n\nevent: bye\ndata: closing\n\n");
    const refused = await Promise.all([1, 2].map(() => fetch(running.url, { headers: { Accept: "text/event-stream" } })));
    expect(refused.map((r) => r.status)).toEqual([503, 503]);
    expectDelta(before, listener.stats(), {
      opened: 3,
      ended: { server_closing: 3 },
      events: 3,
      bytesWritten: sum(clients.map((c) => bodyBytes(c.text()))),
      // A flush of one frame; the last event goes out as the response ends (today no flush, so not in the peak).
      bytesBufferedPeak: between("data: hello\n\n".length, "event: bye\ndata: closing\n\n".length + 64),
      refused: { 503: 2 },
      engines: 1,
    });
    expect(outcomes.get("/")).toBeInstanceOf(CancelledError);
  });

  it("refusals by status (400, 405, 406, 204, 503); HEAD and a CORS preflight are not refusals; no stream opens for any", async () => {
    const channel = new Channel({ history: { maxEvents: 10, maxBytes: 4096 }, unknownId: "204" });
    channel.send("one");
    const channelBefore = channel.stats();
    const { listener } = routed({ "/": park }, { maxConnections: 1, cors: "http://page.example" });
    const resuming = routed({ "/": park }, { resumeFrom: channel }).listener;
    const before = listener.stats();
    const resumingBefore = resuming.stats();
    const running = await serveSse(listener);
    const resumingServer = await serveSse(resuming);
    const sse = { Accept: "text/event-stream" };
    const status = async (path: string, init: RequestInit = {}) => (await fetch(`${running.url}${path}`, { ...init, headers: { ...sse, ...(init.headers as Record<string, string>) } })).status;
    expect(await status("/", { headers: { "Last-Event-ID": "i".repeat(300) } })).toBe(400); // refused by the core as the stream opens
    const holder = await raw(running.port); // holds the one slot
    await until(() => events(holder) === 1, 5000, "the holder's event");
    expect(await status("/?lastEventId=%ZZ")).toBe(400); // refused as it is read
    expect(await status("/", { method: "POST" })).toBe(405);
    expect(await status("/", { headers: { Accept: "text/html" } })).toBe(406);
    expect(await status("/")).toBe(503); // maxConnections
    expect(await status("/", { method: "HEAD" })).toBe(200);
    expect(await status("/", { method: "OPTIONS", headers: { Origin: "http://page.example", "Access-Control-Request-Method": "GET" } })).toBe(204);
    expectDelta(before, listener.stats(), { open: 1, opened: 1, events: 1, bytesWritten: bodyBytes(holder.text()), bytesBufferedPeak: "data: hello\n\n".length, refused: { 400: 2, 405: 1, 406: 1, 503: 1 }, engines: 1, slotsInUse: 1 });
    const gone = await fetch(resumingServer.url, { headers: { ...sse, "Last-Event-ID": "not-in-the-history" } });
    expect(gone.status).toBe(204);
    expectDelta(resumingBefore, resuming.stats(), { refused: { 204: 1 } });
    expect(channel.stats()).toEqual(channelBefore); // the 204 is withSse's refusal, not the channel's unknown id
  });

  it("keepAlives count the keep-alive comments the client got; the handler's own comments are comments", async () => {
    const { listener, release } = commentThenWait();
    const before = listener.stats();
    const running = await serveSse(listener);
    const client = await raw(running.port);
    const comments = () => {
      const parsed = reader();
      parsed.feed(bodyText(client.text()));
      return parsed.comments();
    };
    await until(() => comments().length >= 4, 10_000, "three keep-alives after the handler's comment");
    release();
    await client.closed;
    const seen = comments();
    expect(seen[0]).toBe("mine");
    expect(seen.slice(1).every((c) => c === "")).toBe(true);
    expectDelta(before, listener.stats(), {
      opened: 1,
      ended: { returned: 1 },
      comments: 1,
      keepAlives: seen.length - 1,
      bytesWritten: bodyBytes(client.text()),
      bytesBufferedPeak: listener.stats().bytesBufferedPeak, // depends on what Node held: bounded below
      engines: 1,
    });
    expect(listener.stats().bytesBufferedPeak).toBeGreaterThanOrEqual(": mine\n".length);
    expect(listener.stats().bytesBufferedPeak).toBeLessThanOrEqual(listener.stats().bytesWritten);
  });

  it("engines and slotsInUse follow the pool: 5 streams at 2 per engine are 3 engines, kept a while once all are gone", async () => {
    const { listener } = routed({ "/": park }, { connectionsPerEngine: 2 });
    const before = listener.stats();
    const running = await serveSse(listener);
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => raw(running.port)));
    await until(() => clients.every((c) => events(c) === 1), 5000, "each client's event");
    const bytes = sum(clients.map((c) => bodyBytes(c.text())));
    expectDelta(before, listener.stats(), { open: 5, opened: 5, events: 5, bytesWritten: bytes, bytesBufferedPeak: "data: hello\n\n".length, engines: 3, slotsInUse: 5 });
    expect(listener.openConnections).toBe(5);
    for (const c of clients.slice(0, 3)) c.socket.destroy();
    await until(() => listener.stats().open === 2, 5000, "three to end");
    expect(listener.stats().slotsInUse).toBe(2);
    for (const c of clients.slice(3)) c.socket.destroy();
    await until(() => listener.stats().open === 0, 5000, "all to end");
    // Kept for clients coming back; released 10 s later but one (test/stress/trim.stress.ts).
    expectDelta(before, listener.stats(), { opened: 5, ended: { client_gone: 5 }, events: 5, bytesWritten: bytes, bytesBufferedPeak: "data: hello\n\n".length, engines: 3 });
  });

  it("a core trap: ended.core_trap for the failed engine's streams, whose bytes were written; the other engine's stream lives on", async () => {
    const { seen, onError } = errors();
    const { listener, sses } = routed({ "/": park }, { connectionsPerEngine: 2, onError });
    const before = listener.stats();
    const running = await serveSse(listener);
    const a = await raw(running.port, "/1");
    const b = await raw(running.port, "/2");
    const c = await raw(running.port, "/3");
    await until(() => [a, b, c].every((x) => events(x) === 1), 5000, "each client's event");
    expect(slotOf(sses.get("/1")!).engine === slotOf(sses.get("/2")!).engine).toBe(true);
    expect(slotOf(sses.get("/3")!).engine === slotOf(sses.get("/1")!).engine).toBe(false);
    await sses.get("/2")!.send("b again");
    await until(() => events(b) === 2, 5000, "b's second event"); // framed but not yet written, a trap would lose it
    const { engine, conn } = slotOf(sses.get("/1")!);
    corruptSlot(engine, conn);
    await expect(sses.get("/1")!.send("boom")).rejects.toBeInstanceOf(CancelledError);
    await Promise.all([a.closed, b.closed]);
    await until(() => listener.stats().open === 1, 2000, "a and b to end");
    expect(events(b)).toBe(2);
    expectDelta(before, listener.stats(), {
      open: 1,
      opened: 3,
      ended: { core_trap: 2 },
      events: 4,
      bytesWritten: sum([a, b, c].map((x) => bodyBytes(x.text()))),
      bytesBufferedPeak: listener.stats().bytesBufferedPeak, // depends on what Node held: bounded below
      engines: 2,
      slotsInUse: 1,
    });
    expect(listener.stats().bytesBufferedPeak).toBeGreaterThanOrEqual("data: b again\n\n".length);
    expect(listener.stats().bytesBufferedPeak).toBeLessThanOrEqual(listener.stats().bytesWritten);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(WebAssembly.RuntimeError);

    c.socket.destroy();
    await until(() => listener.stats().open === 0, 2000, "c to end");
    expectDelta(before, listener.stats(), {
      opened: 3,
      ended: { core_trap: 2, client_gone: 1 },
      events: 4,
      bytesWritten: sum([a, b, c].map((x) => bodyBytes(x.text()))),
      bytesBufferedPeak: listener.stats().bytesBufferedPeak,
      engines: 2, // both kept a while after their streams ended: the failed one's replacement and c's
    });
  });

  it("a trap while a stream opens: a 503 refusal, and core_trap for the streams on that engine", async () => {
    const { seen, onError } = errors();
    const { listener, sses } = routed({ "/": park }, { connectionsPerEngine: 4, onError });
    const before = listener.stats();
    const running = await serveSse(listener);
    const a = await raw(running.port, "/1");
    await until(() => events(a) === 1, 5000, "a's event");
    // The free list's head is the record after a's: its successor points past memory (see test/hardening-trap.test.ts).
    const { engine, conn } = slotOf(sses.get("/1")!);
    const view = new DataView(engine.memory.buffer);
    view.setInt32(rowOf(engine, conn) + ROW_BYTES + NEXT_FREE, Math.ceil(view.byteLength / ROW_BYTES) + 1, true);
    const b = await raw(running.port, "/2"); // takes the corrupted record; the free list now points nowhere
    await until(() => events(b) === 1, 5000, "b's event");
    const c = await fetch(`${running.url}/3`, { headers: { Accept: "text/event-stream" } }); // opening traps
    expect(c.status).toBe(503);
    await Promise.all([a.closed, b.closed]); // ended with their engine
    const d = await raw(running.port, "/4");
    await until(() => events(d) === 1, 5000, "d's event on a fresh engine");
    expectDelta(before, listener.stats(), {
      open: 1,
      opened: 3,
      ended: { core_trap: 2 },
      events: 3,
      bytesWritten: sum([a, b, d].map((x) => bodyBytes(x.text()))),
      bytesBufferedPeak: listener.stats().bytesBufferedPeak,
      refused: { 503: 1 },
      engines: 1,
      slotsInUse: 1,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(WebAssembly.RuntimeError);
  });
});

/** A stream that sends one comment, then waits for release() with keep-alives every 25 ms. */
function commentThenWait() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const listener = withSse(async (_req, sse) => {
    await sse.comment("mine");
    await released;
  }, { keepAliveMs: 25 });
  return { listener, release };
}

// Three defects the first version of these counters had (each test failed on it).
describe("exact counts at the edges", () => {
  it("bytesBufferedPeak never says more than the stream ever wrote (the cached output figure counts bytes long delivered)", async () => {
    const { listener, release } = commentThenWait();
    const running = await serveSse(listener);
    const client = await raw(running.port);
    await until(() => bodyText(client.text()).split(":\n").length - 1 >= 2, 10_000, "a keep-alive after the comment");
    release();
    await client.closed;
    const s = listener.stats();
    // ": mine\n" (7 bytes) is held corked by Node with its chunk framing (12) until the next tick: a
    // peak made from that cached figure plus a later keep-alive said 14.
    expect(s.bytesBufferedPeak).toBeLessThanOrEqual(s.bytesWritten);
  });

  it("a response that ended with bytes still in Node's buffer is cut after stallTimeoutMs when its client takes none", async () => {
    const channel = new Channel();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const listener = withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await released; // then returns with megabytes queued for a client that reads nothing
    }, { keepAliveMs: 0, stallTimeoutMs: STALL_MS, maxBufferedBytes: 64 * 1024 * 1024 });
    const running = await serveSse(listener);
    await frozen(running.port);
    await until(() => channel.size === 1, 2000, "the subscriber");
    for (let i = 0; i < 500; i++) channel.send(BIG); // 16 MiB: more than the kernel takes
    await tick();
    release();
    await until(() => listener.stats().ended.returned === 1, 2000, "the handler to return");
    expect(running.responses[0]!.writableLength).toBeGreaterThan(0);
    // A returned stream has no cancellation reason, but a stall must still drop its connection.
    await until(() => running.responses[0]!.socket?.destroyed !== false, 2000, "the connection to be destroyed");
  });

  it("deliveries count only frames queued: not the one whose admission cut its subscriber (buffer_full)", async () => {
    const channel = new Channel();
    const subscribed: WebSse[] = [];
    const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), async (sse) => {
      subscribed.push(sse);
      channel.subscribe(sse);
      await sse.closed;
    }, { highWaterMark: 0, keepAliveMs: 0, stallTimeoutMs: 0 }); // holds at most maxEventBytes (64 KiB) unread
    await until(() => channel.size === 1, 2000, "the subscriber");
    const frame = "d".repeat(40 * 1024);
    const returned = channel.send(frame) + channel.send(frame); // the second does not fit: the stream is cut
    await until(() => channel.size === 0, 2000, "the cut");
    expect(subscribed[0]!.signal.reason).toBeInstanceOf(CancelledError);
    await response.body!.cancel().catch(() => {});
    expect(channel.stats().deliveries).toBe(1); // today 2, as send() returned: the frame that cut the stream is counted
    expect(channel.stats().deliveries).toBeLessThanOrEqual(returned);
  });
});

describe("sseStats(): every sseResponse stream of the process", () => {
  /** Hono on @hono/node-server, closed after the test. */
  async function hono(app: Hono): Promise<{ url: string; port: number }> {
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    later(() => new Promise<void>((resolve) => {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      server.close(() => resolve());
    }));
    const port = (server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${port}`, port };
  }

  // Each test its own pool (sseResponse shares engines by maxEventBytes and keepAliveMs): engines move by exactly 1.
  let poolKey = 40_000;

  it("under Hono over real sockets: returned and gone streams, events, comments, bytesWritten = what the clients received, refusals", async () => {
    const maxEventBytes = ++poolKey;
    const K = 4;
    const app = new Hono();
    const outcomes: unknown[] = [];
    app.all("/ret", (c) => sseResponse(c.req.raw, async (sse) => {
      for (let i = 0; i < K; i++) {
        await sse.send({ i }, { id: String(i) });
        await sse.sleep(1);
      }
      await sse.comment("bye");
    }, { maxEventBytes, keepAliveMs: 0 }));
    app.all("/park", (c) => sseResponse(c.req.raw, async (sse) => {
      await sse.send("hello");
      await sse.sleep(600_000).catch((e: unknown) => void outcomes.push(e));
    }, { maxEventBytes, keepAliveMs: 0 }));
    const server = await hono(app);
    const before = sseStats();
    const returned = await Promise.all([1, 2, 3].map(() => raw(server.port, "/ret")));
    await Promise.all(returned.map((c) => c.closed));
    const gone = await Promise.all([1, 2].map(() => raw(server.port, "/park")));
    await until(() => gone.every((c) => events(c) === 1), 5000, "the parked streams' events");
    expectDelta(before, sseStats(), {
      open: 2,
      opened: 5,
      ended: { returned: 3 },
      events: 3 * K + 2,
      comments: 3,
      bytesWritten: sum([...returned, ...gone].map((c) => bodyBytes(c.text()))),
      bytesBufferedPeak: sseStats().bytesBufferedPeak - before.bytesBufferedPeak,
      engines: 1,
      slotsInUse: 2,
    });
    for (const c of gone) c.socket.destroy();
    await until(() => outcomes.length === 2, 5000, "the parked handlers to be cancelled");
    expect(outcomes.every((e) => e instanceof CancelledError)).toBe(true);

    const status = async (path: string, init: RequestInit = {}) => (await fetch(`${server.url}${path}`, { ...init, headers: { Accept: "text/event-stream", ...(init.headers as Record<string, string>) } })).status;
    expect(await status("/park?lastEventId=%ZZ")).toBe(400);
    expect(await status("/park", { headers: { "Last-Event-ID": "i".repeat(300) } })).toBe(400);
    expect(await status("/park", { method: "POST" })).toBe(405);
    expect(await status("/park", { headers: { Accept: "text/html" } })).toBe(406);
    expect(await status("/park", { method: "HEAD" })).toBe(200);
    const after = sseStats();
    expectDelta(before, after, {
      opened: 5,
      ended: { returned: 3, client_gone: 2 },
      events: 3 * K + 2,
      comments: 3,
      bytesWritten: sum([...returned, ...gone].map((c) => bodyBytes(c.text()))),
      bytesBufferedPeak: after.bytesBufferedPeak - before.bytesBufferedPeak,
      refused: { 400: 2, 405: 1, 406: 1 },
      engines: 1,
    });
    // The peak is a maximum over the process: at least one of these streams' frames.
    expect(after.bytesBufferedPeak).toBeGreaterThanOrEqual('data: {"i":0}\n\n'.length);
  });

  const request = (init: RequestInit = {}) => new Request("http://localhost/events", { ...init, headers: { accept: "text/event-stream", ...(init.headers as Record<string, string>) } });

  it("plain Requests: buffer_full, stalled, keepAlives, core_trap; a 503 for a trap while opening", async () => {
    const maxEventBytes = ++poolKey;
    const before = sseStats();

    // Unawaited sends to a body read once, then never: cut as too slow.
    const flood = { framed: 0 };
    let floodEnd: unknown;
    const full = sseResponse(request(), async (sse) => {
      while (!sse.signal.aborted) {
        sse.send("f".repeat(1000)).then(() => void flood.framed++, () => {});
        await tick();
      }
      floodEnd = sse.signal.reason;
    }, { maxEventBytes, keepAliveMs: 0, highWaterMark: 4096, stallTimeoutMs: 0 });
    const fullReader = full.body!.getReader();
    const firstRead = (await fullReader.read()).value!.length;
    await until(() => floodEnd !== undefined, 10_000, "the unread body to be cut");
    expect(floodEnd).toBeInstanceOf(CancelledError);
    await expect(fullReader.read()).rejects.toBeInstanceOf(CancelledError);

    // Awaited sends to a body read once: cut after stallTimeoutMs.
    let stalledSends = 0;
    let stallEnd: unknown;
    const stall = sseResponse(request(), async (sse) => {
      try {
        for (;;) {
          await sse.send("s".repeat(1000));
          stalledSends++;
        }
      } catch (e) {
        stallEnd = e;
      }
    }, { maxEventBytes, keepAliveMs: 0, highWaterMark: 4096, stallTimeoutMs: STALL_MS });
    const stallReader = stall.body!.getReader();
    const stallRead = (await stallReader.read()).value!.length;
    await until(() => stallEnd !== undefined, CUT_WITHIN_MS, "the unread body to stall");
    expect(stallEnd).toBeInstanceOf(CancelledError);

    const mid = sseStats();
    expectDelta(before, mid, {
      opened: 2,
      ended: { buffer_full: 1, stalled: 1 },
      events: flood.framed + stalledSends, // the stalled one's last send was cancelled as it waited, unframed
      bytesWritten: between(firstRead + stallRead, firstRead + stallRead + 4 * (4096 + 2 * 1024 + maxEventBytes)),
      bytesBufferedPeak: mid.bytesBufferedPeak - before.bytesBufferedPeak,
      engines: 1,
    });

    // Keep-alives: a body read to its end.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const kept = sseResponse(request(), () => released, { keepAliveMs: 20, maxEventBytes: maxEventBytes + 1 });
    const keptReader = kept.body!.getReader();
    let keptText = "";
    let keptBytes = 0;
    const keptDone = (async () => {
      for (;;) {
        const { value, done } = await keptReader.read();
        if (done) return;
        keptBytes += value.length;
        keptText += new TextDecoder().decode(value);
      }
    })();
    const keepAlivesIn = (text: string) => text.split(":\n").length - 1; // a keep-alive is a bare comment line
    await until(() => keepAlivesIn(keptText) >= 3, 10_000, "three keep-alives");
    release();
    await keptDone;
    const keepAlives = keepAlivesIn(keptText);
    expect(keptText).toBe(":\n".repeat(keepAlives));

    // A trap: both streams on the engine end.
    const parked: WebSse[] = [];
    const ends: unknown[] = [];
    const trapOptions = { maxEventBytes: maxEventBytes + 2, keepAliveMs: 0, onError: () => {} };
    const trapped = [1, 2].map(() => sseResponse(request(), async (sse) => {
      parked.push(sse);
      await sse.sleep(600_000).catch((e: unknown) => void ends.push(e));
    }, trapOptions));
    const trappedBytes = trapped.map((r) => r.arrayBuffer().then((b) => b.byteLength));
    await until(() => parked.length === 2, 2000, "two parked streams");
    expect(slotOf(parked[0]!).engine === slotOf(parked[1]!).engine).toBe(true);
    const { engine, conn } = slotOf(parked[0]!);
    corruptSlot(engine, conn);
    await expect(parked[0]!.send("boom")).rejects.toBeInstanceOf(CancelledError);
    expect(await Promise.all(trappedBytes)).toEqual([0, 0]);
    await until(() => ends.length === 2, 2000, "both handlers cancelled");

    // A trap while opening: the next open on a corrupted free list.
    const opener: WebSse[] = [];
    const first = sseResponse(request(), async (sse) => (opener.push(sse), await sse.sleep(600_000).catch(() => {})), trapOptions);
    await until(() => opener.length === 1, 2000, "the first stream");
    const slot = slotOf(opener[0]!);
    const view = new DataView(slot.engine.memory.buffer);
    view.setInt32(rowOf(slot.engine, slot.conn) + ROW_BYTES + NEXT_FREE, Math.ceil(view.byteLength / ROW_BYTES) + 1, true);
    const second = sseResponse(request(), async (sse) => void (await sse.sleep(600_000).catch(() => {})), trapOptions);
    const third = sseResponse(request(), () => {}, trapOptions);
    expect(third.status).toBe(503);
    await Promise.all([first.arrayBuffer(), second.arrayBuffer()]);

    const after = sseStats();
    expectDelta(before, after, {
      opened: 2 + 1 + 2 + 2,
      ended: { buffer_full: 1, stalled: 1, returned: 1, core_trap: 4 },
      events: flood.framed + stalledSends,
      keepAlives,
      bytesWritten: mid.bytesWritten - before.bytesWritten + keptBytes,
      bytesBufferedPeak: after.bytesBufferedPeak - before.bytesBufferedPeak,
      refused: { 503: 1 },
      engines: 3, // a pool per configuration, each keeping one engine
    });
  });

  it("plain Requests refused (400, 405, 406) open nothing; a HEAD is no refusal", async () => {
    const maxEventBytes = ++poolKey;
    const before = sseStats();
    const handler = () => {
      throw new Error("never runs");
    };
    const o = { maxEventBytes };
    expect(sseResponse(request({ method: "POST" }), handler, o).status).toBe(405);
    expect(sseResponse(request({ headers: { accept: "text/html" } }), handler, o).status).toBe(406);
    expect(sseResponse(new Request("http://localhost/events?lastEventId=%ZZ", { headers: { accept: "text/event-stream" } }), handler, o).status).toBe(400);
    expect(sseResponse(request({ method: "HEAD" }), handler, o).status).toBe(200);
    expectDelta(before, sseStats(), { refused: { 400: 1, 405: 1, 406: 1 } });
    // An id only the core refuses is refused as the stream opens: the pool (new here) made its engine by then.
    expect(sseResponse(request({ headers: { "last-event-id": "i".repeat(300) } }), handler, o).status).toBe(400);
    expectDelta(before, sseStats(), { refused: { 400: 2, 405: 1, 406: 1 }, engines: 1 });
  });
});

describe("Channel.stats()", () => {
  it("events, bytesFramed, deliveries (live and replayed, filtered), resumes, unknownIds, historySize, subscribers", async () => {
    const resetting = new Channel({ history: { maxEvents: 5, maxBytes: 4096 }, unknownId: "reset" });
    const replayingAll = new Channel({ history: { maxEvents: 5, maxBytes: 4096 }, unknownId: "all" });
    const odd = (data: unknown) => (data as { i: number }).i % 2 === 1;
    const listener = withSse(async (req, sse) => {
      const url = new URL(req.url!, "http://x");
      const channel = url.pathname === "/all" ? replayingAll : resetting;
      channel.subscribe(sse, url.searchParams.has("odd") ? { filter: odd } : {});
      await sse.closed;
    }, { keepAliveMs: 0 });
    const running = await serveSse(listener);
    const zero = { subscribers: 0, events: 0, bytesFramed: 0, deliveries: 0, resumes: 0, replayedEvents: 0, unknownIds: { reset: 0, all: 0 }, historySize: 0 };
    expect(resetting.stats()).toEqual(zero);

    const live = await Promise.all([1, 2, 3].map(() => raw(running.port)));
    const filtered = await raw(running.port, "/?odd");
    await until(() => resetting.size === 4, 2000, "four subscribers");
    expect(resetting.stats()).toEqual({ ...zero, subscribers: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      resetting.send({ i });
      ids.push(resetting.lastId!);
    }
    await until(() => live.every((c) => events(c) === 8) && events(filtered) === 4, 5000, "the events");
    const framed = bodyBytes(live[0]!.text());
    expect(resetting.stats()).toEqual({ ...zero, subscribers: 4, events: 8, bytesFramed: framed, deliveries: 3 * 8 + 4, historySize: 5 });

    // Resumes: the history holds i = 3…7.
    const resumed = await raw(running.port, "/", { "Last-Event-ID": ids[5]! }); // gets 6, 7
    const resumedOdd = await raw(running.port, "/?odd", { "Last-Event-ID": ids[3]! }); // gets 5, 7
    const upToDate = await raw(running.port, "/", { "Last-Event-ID": ids[7]! }); // nothing to replay, no resume
    const unknown = await raw(running.port, "/", { "Last-Event-ID": ids[0]! }); // trimmed: a reset
    await until(() => resetting.size === 8, 2000, "eight subscribers");
    await until(() => events(resumed) === 2 && events(resumedOdd) === 2 && events(unknown) === 1, 5000, "the replays and the reset");
    expect(bodyText(unknown.text())).toContain("event: reset\n");
    expect(events(upToDate)).toBe(0);
    expect(resetting.stats()).toEqual({ ...zero, subscribers: 8, events: 8, bytesFramed: framed, deliveries: 28 + 4, resumes: 2, replayedEvents: 4, unknownIds: { reset: 1, all: 0 }, historySize: 5 });

    // unknownId "all": every kept event is replayed, which is no resume.
    for (let i = 0; i < 3; i++) replayingAll.send({ i });
    const all = await raw(running.port, "/all", { "Last-Event-ID": "never-sent" });
    await until(() => events(all) === 3, 5000, "the whole history");
    expect(replayingAll.stats()).toEqual({ ...zero, subscribers: 1, events: 3, bytesFramed: bodyBytes(all.text()), deliveries: 3, replayedEvents: 3, unknownIds: { reset: 0, all: 1 }, historySize: 3 });

    // Subscribers leave as their clients go; nothing else moves.
    for (const c of [...live, filtered, resumed, resumedOdd, upToDate, unknown, all]) c.socket.destroy();
    await until(() => resetting.size === 0 && replayingAll.size === 0, 5000, "every subscriber to leave");
    expect(resetting.stats()).toEqual({ ...zero, events: 8, bytesFramed: framed, deliveries: 32, resumes: 2, replayedEvents: 4, unknownIds: { reset: 1, all: 0 }, historySize: 5 });
  });

  it("deliveries equal what send() returned when a frozen subscriber is cut (buffer_full) mid-run; the cut one then gets none", async () => {
    const channel = new Channel({ maxEventBytes: 64 * 1024 });
    const listener = withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await sse.closed;
    }, { keepAliveMs: 0, stallTimeoutMs: 0, maxBufferedBytes: 128 * 1024 });
    const running = await serveSse(listener);
    const reading = await raw(running.port);
    await until(() => channel.size === 1, 2000, "the reading subscriber");
    const still = await frozen(running.port);
    await until(() => channel.size === 2, 2000, "the frozen subscriber");
    let returned = 0;
    let sends = 0;
    while (channel.size === 2) {
      returned += channel.send(BIG);
      sends++;
      await until(() => bodyBytes(reading.text()) >= sends * (BIG.length + 8), 5000, "the reader to keep up");
      if (sends > 2000) throw new Error("the frozen subscriber was never cut");
    }
    for (let i = 0; i < 3; i++, sends++) returned += channel.send(BIG);
    const s = channel.stats();
    expect(listener.stats().ended.buffer_full).toBe(1);
    expect(s.events).toBe(sends);
    expect(s.deliveries).toBe(returned);
    expect(returned).toBeGreaterThan(sends); // the frozen one got some before its cut
    await until(() => events(reading) === sends, 5000, "every event on the reader");
    expect(s.bytesFramed).toBe(bodyBytes(reading.text()));
    expect(await drained(still)).toBeLessThan(s.bytesFramed);
  });
});

describe("SharedChannel.stats() with a real redis-server", () => {
  it("broker fields: commands, reads, lag; resumes and resets from Redis; failedSends and broker_unavailable under kill -9; recoveries and a gap after a restart without data", async () => {
    const redis: RedisServer = await startRedis();
    later(() => redis.stop());
    const reported: unknown[] = [];
    const channel = await SharedChannel.connect({ redis: { url: redis.url, stream: "metrics" }, unknownId: "reset", onError: (e) => void reported.push(e) });
    later(() => channel.close());
    const listener = withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await sse.closed;
    }, { keepAliveMs: 0 });
    const running = await serveSse(listener);
    const redisCalls = async () => {
      const info = await redis.cli("INFO", "commandstats");
      let calls = 0;
      for (const m of info.matchAll(/^cmdstat_(xadd|xrange|xrevrange|xread|multi|exec):calls=(\d+)/gm)) calls += Number(m[2]);
      return calls;
    };

    const start = channel.stats();
    expect(start).toEqual({
      subscribers: 0, events: 0, bytesFramed: 0, deliveries: 0, resumes: 0, replayedEvents: 0, unknownIds: { reset: 0, all: 0 }, historySize: 0,
      broker: { connected: true, commands: between(3, 3), reads: 0, failedSends: 0, recoveries: 0, gaps: 0, readerLagMs: 0 },
    }); // XREVRANGE on both keys, then the reader's XREAD BLOCK

    const live = await Promise.all([1, 2].map(() => raw(running.port)));
    await until(() => channel.size === 2, 2000, "two subscribers");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await channel.send({ i }))!);
    await until(() => live.every((c) => events(c) === 5), 5000, "the events on both");
    const framed = bodyBytes(live[0]!.text());
    const s1 = channel.stats();
    expect(s1).toEqual({
      subscribers: 2, events: 5, bytesFramed: framed, deliveries: 10, resumes: 0, replayedEvents: 0, unknownIds: { reset: 0, all: 0 }, historySize: 0,
      broker: { connected: true, commands: s1.broker.commands, reads: between(1, 10), failedSends: 0, recoveries: 0, gaps: 0, readerLagMs: between(0, 5000) },
    });
    // Every command counted is one Redis ran, but the XREAD blocked in it now.
    expect(await redisCalls()).toEqual(between(s1.broker.commands - 1, s1.broker.commands));
    expect(s1.broker.commands).toBeGreaterThanOrEqual(3 + 5 + s1.broker.reads);

    // A resume read from Redis (no local history), an unknown entry id, a malformed id.
    const resumed = await raw(running.port, "/", { "Last-Event-ID": ids[1]! });
    const unknown = await raw(running.port, "/", { "Last-Event-ID": "1-0" });
    const malformed = await raw(running.port, "/", { "Last-Event-ID": "not-an-entry-id" });
    await until(() => events(resumed) === 3 && events(unknown) === 1 && events(malformed) === 1, 5000, "the replay and the resets");
    await until(() => channel.size === 5, 2000, "five subscribers");
    const s2 = channel.stats();
    expect(s2).toMatchObject({ subscribers: 5, events: 5, bytesFramed: framed, deliveries: 13, resumes: 1, replayedEvents: 3, unknownIds: { reset: 2, all: 0 }, historySize: 0 });
    expect(s2.broker).toMatchObject({ connected: true, failedSends: 0, recoveries: 0, gaps: 0 });
    expect(s2.broker.commands).toBeGreaterThanOrEqual(s1.broker.commands + 4); // XRANGE ×2 for each id Redis was asked about

    // kill -9: a send fails, a client Redis must resume is ended (broker_unavailable).
    await redis.kill9();
    await until(() => !channel.connected, 5000, "the reader to see the outage");
    await expect(channel.send("lost")).rejects.toBeInstanceOf(BrokerError);
    const refused = await raw(running.port, "/", { "Last-Event-ID": ids[0]! });
    await refused.closed;
    expect(bodyText(refused.text())).toBe("retry: 1000\n\n");
    expect(channel.stats()).toMatchObject({ events: 5, deliveries: 13, resumes: 1, unknownIds: { reset: 2, all: 0 }, broker: { connected: false, failedSends: 1, recoveries: 0, gaps: 0 } });

    // Back without its data: one recovery, one gap, a reset to every subscriber.
    await redis.restart({ keepData: false });
    await until(() => channel.connected && channel.stats().broker.gaps === 1, 10_000, "the reader back, and the gap seen");
    const s3 = channel.stats();
    expect(s3).toEqual({
      subscribers: 5, events: 5, bytesFramed: framed, deliveries: 13, resumes: 1, replayedEvents: 3, unknownIds: { reset: 2 + 5, all: 0 }, historySize: 0,
      broker: { connected: true, commands: s3.broker.commands, reads: s3.broker.reads, failedSends: 1, recoveries: 1, gaps: 1, readerLagMs: between(0, 5000) },
    });
    for (const c of [...live, resumed, unknown, malformed]) await until(() => bodyText(c.text()).split("event: reset\n").length - 1 >= 1 + (c === unknown || c === malformed ? 1 : 0), 5000, "the reset after the gap");
    const after = await channel.send("after");
    expect(after).toBeDefined();
    await until(() => channel.stats().events === 6, 5000, "the new event read back");
    for (const c of [...live, resumed, unknown, malformed]) await until(() => bodyText(c.text()).includes("data: after\n"), 5000, "the new event on every client");
    expect(channel.stats().broker.readerLagMs).toBeGreaterThanOrEqual(0);
    expect(reported.filter((e) => e instanceof BrokerError).length).toBe(2); // the outage, the loss

    expectDelta(zeroStats(), listener.stats(), {
      open: 5,
      opened: 6,
      ended: { broker_unavailable: 1 },
      bytesWritten: listener.stats().bytesWritten,
      bytesBufferedPeak: listener.stats().bytesBufferedPeak,
      engines: 1,
      slotsInUse: 5,
    });
  });
});

describe("diagnostics_channel", () => {
  const NAMES = ["wasm-sse:stream:open", "wasm-sse:stream:end", "wasm-sse:stream:cut"] as const;
  type Message = { request: IncomingMessage; lastEventId?: string; cause?: string; error?: unknown };

  /** One listener that ends streams every way, by path. */
  function workload() {
    const flood = { framed: 0 };
    const blocking = { framed: 0 };
    const reported: unknown[] = [];
    const r = routed({
      "/returns": async (sse) => void (await sse.send("bye")),
      "/gone": park,
      "/full": flooder(flood),
      "/stall": blockingSender(blocking),
      "/trap": park,
      "/closing": park,
    }, { maxBufferedBytes: 256 * 1024, stallTimeoutMs: STALL_MS, connectionsPerEngine: 1, onError: (e) => void reported.push(e) });
    return { ...r, reported };
  }

  async function run(w: ReturnType<typeof workload>, running: Running) {
    const returns = await raw(running.port, "/returns", { "Last-Event-ID": "7" });
    await returns.closed;
    const gone = await raw(running.port, "/gone");
    await until(() => events(gone) === 1, 5000, "the event");
    gone.socket.destroy();
    const full = await frozen(running.port, "/full");
    const stall = await frozen(running.port, "/stall");
    const trap = await raw(running.port, "/trap");
    const closing = await raw(running.port, "/closing");
    await until(() => events(trap) === 1 && events(closing) === 1, 5000, "the parked events");
    const { engine, conn } = slotOf(w.sses.get("/trap")!);
    corruptSlot(engine, conn);
    await expect(w.sses.get("/trap")!.send("boom")).rejects.toBeInstanceOf(CancelledError);
    await until(() => w.outcomes.has("/full") && w.outcomes.has("/stall") && w.outcomes.has("/gone") && w.outcomes.has("/trap"), CUT_WITHIN_MS, "the cuts");
    expect((await fetch(`${running.url}/refused`, { method: "POST" })).status).toBe(405);
    await w.listener.close();
    for (const c of [full, stall]) await drained(c);
  }

  it("publishes open (request, lastEventId), end (request, cause, error) for every stream, and cut for buffer_full and stalled only", async () => {
    const got: Record<(typeof NAMES)[number], Message[]> = { "wasm-sse:stream:open": [], "wasm-sse:stream:end": [], "wasm-sse:stream:cut": [] };
    const order: string[] = [];
    const subscribers = NAMES.map((name) => {
      const fn = (message: unknown) => {
        got[name].push(message as Message);
        order.push(`${name.split(":")[2]} ${(message as Message).request.url}`);
      };
      diagnosticsChannel.subscribe(name, fn);
      return () => diagnosticsChannel.unsubscribe(name, fn);
    });
    later(() => subscribers.forEach((unsubscribe) => unsubscribe()));
    const w = workload();
    const running = await serveSse(w.listener);
    await run(w, running);

    const paths = ["/returns", "/gone", "/full", "/stall", "/trap", "/closing"];
    expect(got["wasm-sse:stream:open"].map((m) => m.request.url)).toEqual(paths);
    for (const m of got["wasm-sse:stream:open"]) {
      expect(m.request).toBe(w.requests.get(m.request.url!)); // the IncomingMessage the handler got
      expect(Object.keys(m).sort()).toEqual(["lastEventId", "request"]);
      expect(m.lastEventId).toBe(m.request.url === "/returns" ? "7" : undefined);
    }
    const ends = new Map(got["wasm-sse:stream:end"].map((m) => [m.request.url!, m]));
    expect(got["wasm-sse:stream:end"]).toHaveLength(6);
    const causes = { "/returns": "returned", "/gone": "client_gone", "/full": "buffer_full", "/stall": "stalled", "/trap": "core_trap", "/closing": "server_closing" };
    for (const [path, cause] of Object.entries(causes)) {
      const m = ends.get(path)!;
      expect(m.request).toBe(w.requests.get(path));
      expect(m.cause).toBe(cause);
      expect(Object.keys(m).sort()).toEqual(["cause", "error", "request"]);
      if (cause === "returned") expect(m.error).toBeUndefined();
      else {
        expect(m.error).toBeInstanceOf(CancelledError);
        expect(w.sses.get(path)!.signal.reason).toBe(m.error); // the very error the handler saw
      }
      expect(order.indexOf(`open ${path}`)).toBeLessThan(order.indexOf(`end ${path}`));
    }
    expect(got["wasm-sse:stream:cut"].map((m) => [m.request.url, m.cause]).sort()).toEqual([["/full", "buffer_full"], ["/stall", "stalled"]]);
    for (const m of got["wasm-sse:stream:cut"]) expect(m).toBe(ends.get(m.request.url!)); // the end's message, published again
    // The stats agree.
    expect(w.listener.stats().ended).toEqual({ returned: 1, client_gone: 1, buffer_full: 1, stalled: 1, server_closing: 1, core_trap: 1, broker_unavailable: 0 });
    expect(w.reported.filter((e) => e instanceof WebAssembly.RuntimeError)).toHaveLength(1);
  });

  it("publishes nothing (and builds no message) while nobody subscribes", async () => {
    const channels = NAMES.map((name) => diagnosticsChannel.channel(name));
    const published: string[] = [];
    for (const [i, ch] of channels.entries()) {
      Object.defineProperty(ch, "publish", {
        configurable: true,
        value: (message: unknown) => {
          published.push(NAMES[i]!);
          // Node swaps a channel's prototype as it gains and loses subscribers: the current one's publish.
          (Object.getPrototypeOf(ch) as { publish(m: unknown): void }).publish.call(ch, message);
        },
      });
      later(() => delete (ch as { publish?: unknown }).publish);
    }
    for (const ch of channels) expect(ch.hasSubscribers).toBe(false);
    const w = workload();
    const running = await serveSse(w.listener);
    await run(w, running);
    expect(w.listener.stats().ended).toEqual({ returned: 1, client_gone: 1, buffer_full: 1, stalled: 1, server_closing: 1, core_trap: 1, broker_unavailable: 0 });
    expect(published).toEqual([]);

    // The same wrapper sees publishes once someone subscribes: the check above could fail.
    const fn = () => {};
    diagnosticsChannel.subscribe("wasm-sse:stream:end", fn);
    later(() => diagnosticsChannel.unsubscribe("wasm-sse:stream:end", fn));
    const { listener } = routed({ "/": async (sse) => void (await sse.send("x")) });
    const second = await serveSse(listener);
    await (await raw(second.port)).closed;
    await until(() => published.length === 1, 2000, "the end to be published");
    expect(published).toEqual(["wasm-sse:stream:end"]);
  });
});

describe("prometheusText, checked by promtool", () => {
  /** Sources with something in every family: two listeners, sseStats, a Channel, a SharedChannel on a real Redis. */
  async function populated(listenerName = "events") {
    const channel = new Channel({ history: { maxEvents: 10, maxBytes: 4096 } });
    const events = withSse(async (req, sse) => {
      if (req.url === "/channel") {
        channel.subscribe(sse);
        return void (await sse.closed);
      }
      await sse.send("one");
      await sse.comment("two");
    }, { keepAliveMs: 0 });
    const idle = withSse(() => {});
    const running = await serveSse(events);
    await (await raw(running.port)).closed;
    expect((await fetch(running.url, { method: "POST" })).status).toBe(405);
    const subscriber = await raw(running.port, "/channel");
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send("shared");
    await until(() => subscriber.text().includes("data: shared"), 2000, "the event");
    const web = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), (sse) => sse.send("web"));
    await web.text();

    const redis = await startRedis();
    later(() => redis.stop());
    const shared = await SharedChannel.connect({ redis: { url: redis.url, stream: "promtool" } });
    later(() => shared.close());
    await shared.send("x");
    await until(() => shared.stats().events === 1, 5000, "the shared event read back");
    return { events, idle, local: channel, shared, streams: { [listenerName]: events, idle, web: sseStats }, channels: { local: channel, shared } };
  }

  it("a populated exposition passes promtool check metrics silently, and says what stats() say", async () => {
    const sources = await populated();
    const text = prometheusText(sources);
    const snapshot = { events: sources.events.stats(), idle: sources.idle.stats(), web: sseStats(), local: sources.local.stats(), shared: sources.shared.stats() };
    expect(PROMETHEUS_CONTENT_TYPE).toBe("text/plain; version=0.0.4; charset=utf-8");
    const check = await promtool(text);
    expect(check).toEqual({ code: 0, output: "" });

    const { samples, types } = parseExposition(text);
    for (const [name, type] of types) {
      expect(name.startsWith("wasm_sse_")).toBe(true);
      expect(name.endsWith("_total")).toBe(type === "counter");
    }
    expect(types.size).toBe(12 + 8 + 7);
    for (const listener of ["events", "idle", "web"] as const) {
      const s = snapshot[listener];
      const l = { listener };
      expect(sampleOf(samples, "wasm_sse_streams_open", l)).toBe(s.open);
      expect(sampleOf(samples, "wasm_sse_streams_opened_total", l)).toBe(s.opened);
      for (const [cause, n] of Object.entries(s.ended)) expect(sampleOf(samples, "wasm_sse_streams_ended_total", { ...l, cause })).toBe(n);
      expect(sampleOf(samples, "wasm_sse_events_total", l)).toBe(s.events);
      expect(sampleOf(samples, "wasm_sse_comments_total", l)).toBe(s.comments);
      expect(sampleOf(samples, "wasm_sse_keepalives_total", l)).toBe(s.keepAlives);
      expect(sampleOf(samples, "wasm_sse_written_bytes_total", l)).toBe(s.bytesWritten);
      expect(sampleOf(samples, "wasm_sse_buffered_bytes", l)).toBe(s.bytesBuffered);
      expect(sampleOf(samples, "wasm_sse_stream_buffered_peak_bytes", l)).toBe(s.bytesBufferedPeak);
      for (const [status, n] of Object.entries(s.refused)) expect(sampleOf(samples, "wasm_sse_requests_refused_total", { ...l, status })).toBe(n);
      expect(sampleOf(samples, "wasm_sse_engines", l)).toBe(s.engines);
      expect(sampleOf(samples, "wasm_sse_slots_in_use", l)).toBe(s.slotsInUse);
    }
    expect(snapshot.events).toMatchObject({ open: 1, opened: 2, events: 1, comments: 1, refused: { 405: 1 } });
    expect(snapshot.idle).toEqual(zeroStats());
    for (const name of ["local", "shared"] as const) {
      const s = snapshot[name];
      const l = { channel: name };
      expect(sampleOf(samples, "wasm_sse_channel_subscribers", l)).toBe(s.subscribers);
      expect(sampleOf(samples, "wasm_sse_channel_events_total", l)).toBe(s.events);
      expect(sampleOf(samples, "wasm_sse_channel_framed_bytes_total", l)).toBe(s.bytesFramed);
      expect(sampleOf(samples, "wasm_sse_channel_deliveries_total", l)).toBe(s.deliveries);
      expect(sampleOf(samples, "wasm_sse_channel_resumes_total", l)).toBe(s.resumes);
      expect(sampleOf(samples, "wasm_sse_channel_replayed_events_total", l)).toBe(s.replayedEvents);
      expect(sampleOf(samples, "wasm_sse_channel_unknown_ids_total", { ...l, answer: "reset" })).toBe(s.unknownIds.reset);
      expect(sampleOf(samples, "wasm_sse_channel_unknown_ids_total", { ...l, answer: "all" })).toBe(s.unknownIds.all);
      expect(sampleOf(samples, "wasm_sse_channel_history_events", l)).toBe(s.historySize);
    }
    expect(snapshot.local).toMatchObject({ subscribers: 1, events: 1, deliveries: 1, historySize: 1 });
    const b = snapshot.shared.broker;
    const l = { channel: "shared" };
    expect(sampleOf(samples, "wasm_sse_broker_up", l)).toBe(1);
    expect(sampleOf(samples, "wasm_sse_broker_commands_total", l)).toBe(b.commands);
    expect(sampleOf(samples, "wasm_sse_broker_reads_total", l)).toBe(b.reads);
    expect(sampleOf(samples, "wasm_sse_broker_failed_sends_total", l)).toBe(b.failedSends);
    expect(sampleOf(samples, "wasm_sse_broker_recoveries_total", l)).toBe(b.recoveries);
    expect(sampleOf(samples, "wasm_sse_broker_gaps_total", l)).toBe(b.gaps);
    expect(sampleOf(samples, "wasm_sse_broker_reader_lag_seconds", l)).toBe(b.readerLagMs / 1000);
    expect(samples.filter((s) => s.name.startsWith("wasm_sse_broker_") && s.labels.channel === "local")).toEqual([]); // a local channel has no broker
  });

  it("promtool fails a broken exposition (so the check above can fail)", async () => {
    const sources = await populated();
    const text = prometheusText(sources);
    const noTotal = text.replaceAll("wasm_sse_events_total", "wasm_sse_events");
    const lint = await promtool(noTotal);
    expect(lint.code).not.toBe(0);
    expect(lint.output).toContain('counter metrics should have "_total" suffix');
    const unescaped = text.replace('listener="events"', 'listener="ev"ents"');
    const parse = await promtool(unescaped);
    expect(parse.code).not.toBe(0);
    expect(parse.output).toMatch(/error/i);
  });

  it("escapes a listener's and a channel's name: quote, backslash and line feed stay valid and round-trip", async () => {
    const name = 'we"ird\\name\nline';
    const sources = await populated(name);
    const text = prometheusText({ streams: sources.streams, channels: { [name]: sources.channels.local } });
    expect(text).toContain('listener="we\\"ird\\\\name\\nline"');
    expect(await promtool(text)).toEqual({ code: 0, output: "" });
    const { samples } = parseExposition(text);
    expect(sampleOf(samples, "wasm_sse_streams_opened_total", { listener: name })).toBe(2);
    expect(sampleOf(samples, "wasm_sse_channel_events_total", { channel: name })).toBe(1);
  });
});
