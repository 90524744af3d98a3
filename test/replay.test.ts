// Resumable streams: a Channel with a history replays what a reconnecting client missed
// (after its Last-Event-ID header, or ?lastEventId=), in order, then live events, with no
// gap and no duplicate; an id the history no longer holds gets what `unknownId` says.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../examples/demo.js";
import { Channel, withSse, type ChannelOptions, type Sse } from "../host/index.js";
import { reader, until } from "./helpers/events.js";
import { cutNewest, listen, serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const HISTORY = { maxEvents: 100, maxBytes: 64 * 1024 };

/** A server whose every request subscribes to `channel` (with ?room= as a filter) until it goes. */
async function resumable(channel: Channel, options: Parameters<typeof withSse>[1] = {}) {
  const seenIds: Array<string | undefined> = [];
  const sockets: Socket[] = [];
  const listener = withSse(async (req: IncomingMessage, sse: Sse) => {
    seenIds.push(sse.lastEventId);
    sockets.push(req.socket);
    const room = new URL(req.url ?? "/", "http://x").searchParams.get("room");
    channel.subscribe(sse, room === null ? {} : { filter: (data) => (data as { room?: string }).room === room });
    await sse.closed;
  }, options);
  running = await serve(listener);
  return { listener, seenIds, sockets, url: running.url, port: running.port };
}

/** An open fetch stream that parses events as they arrive. */
async function open(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal, headers: { Accept: "text/event-stream", ...headers } });
  const stream = reader();
  const done = (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
    } catch {
      // aborted by the test
    }
  })();
  return { response, stream, close: async () => (abort.abort(), await done) };
}

function channelWith(n: number, options: ChannelOptions = {}): { channel: Channel; ids: string[] } {
  const channel = new Channel({ history: HISTORY, ...options });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    channel.send(`e${i}`);
    ids.push(lastSentId(channel));
  }
  return { channel, ids };
}

/** The id the channel gave its newest event. */
function lastSentId(channel: Channel): string {
  if (channel.lastId === undefined) throw new Error("no id yet");
  return channel.lastId;
}

describe("ids", () => {
  it("are assigned when the sender gives none: one random prefix per channel, a counter after it", async () => {
    const seen: string[] = [];
    const { channel } = channelWith(0);
    const other = new Channel({ history: HISTORY });
    const { url } = await resumable(channel);
    const c = await open(url);
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send("a");
    channel.send("b", { id: "mine" });
    channel.send("c");
    other.send("x");
    await until(() => c.stream.events().length === 3, 2000, "three events");
    for (const e of c.stream.events()) seen.push(e.id!);
    const [first, given, third] = seen as [string, string, string];
    expect(given).toBe("mine");
    const prefix = first.slice(0, first.lastIndexOf("-") + 1);
    expect(first).toBe(`${prefix}1`);
    expect(third).toBe(`${prefix}2`);
    expect(prefix).toMatch(/^[A-Za-z0-9_-]{8}-$/);
    expect(lastSentId(other).startsWith(prefix)).toBe(false); // another channel (a restarted server): other ids
    await c.close();
  });

  it("refuses an empty id on a channel with a history, and record without one, with a TypeError", () => {
    const withHistory = new Channel({ history: HISTORY });
    expect(() => withHistory.send("x", { id: "" })).toThrow(TypeError);
    expect(withHistory.historySize).toBe(0);
    expect(withHistory.lastId).toBeUndefined();
    expect(() => new Channel().send("x", { id: "1", record: true })).toThrow(/keeps no history/);
  });

  it("refuses a history, policy or retry that makes no sense with a RangeError", () => {
    expect(() => new Channel({ history: { maxEvents: 0, maxBytes: 1024 } })).toThrow(RangeError);
    expect(() => new Channel({ history: { maxEvents: 10, maxBytes: 8 } })).toThrow(RangeError);
    expect(() => new Channel({ history: { maxEvents: 1.5, maxBytes: 1024 } })).toThrow(RangeError);
    expect(() => new Channel({ unknownId: "ignore" as never })).toThrow(RangeError);
    expect(() => new Channel({ retry: -1 })).toThrow(RangeError);
    expect(() => new Channel({ maxEventBytes: 10 })).toThrow(RangeError);
  });
});

describe("resuming from the history", () => {
  it("replays every event after the Last-Event-ID header, then live ones, with no gap or duplicate", async () => {
    const { channel, ids } = channelWith(10);
    const { url } = await resumable(channel);
    const c = await open(url, { "Last-Event-ID": ids[6]! });
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send("e10");
    await until(() => c.stream.events().length === 4, 2000, "replay and live");
    expect(c.stream.events().map((e) => e.data)).toEqual(["e7", "e8", "e9", "e10"]);
    expect(c.stream.events().map((e) => e.id)).toEqual([...ids.slice(7), lastSentId(channel)]);
    await c.close();
  });

  it("gives clients resuming from the same id the same replay, and a later one what was sent since", async () => {
    const { channel, ids } = channelWith(10);
    const { url } = await resumable(channel);
    const storm = await Promise.all(Array.from({ length: 20 }, () => open(url, { "Last-Event-ID": ids[4]! })));
    await until(() => channel.size === 20, 2000, "the first subscribers");
    channel.send("e10"); // recorded: a client resuming from ids[4] now misses e10 too
    const late = await open(url, { "Last-Event-ID": ids[4]! });
    await until(() => channel.size === 21, 2000, "the late subscriber");
    channel.send("e11");
    const all = [...storm, late];
    await until(() => all.every((c) => c.stream.events().length === 7), 2000, "replays and live events");
    for (const c of all) expect(c.stream.events().map((e) => e.data)).toEqual(["e5", "e6", "e7", "e8", "e9", "e10", "e11"]);
    expect(channel.stats()).toMatchObject({ resumes: 21, replayedEvents: 20 * 5 + 6 });
    await Promise.all(all.map((c) => c.close()));
  });

  it("takes the id from ?lastEventId= when there is no header, and the header when there are both", async () => {
    const { channel, ids } = channelWith(5);
    const { url, seenIds } = await resumable(channel);
    const byQuery = await open(`${url}/?lastEventId=${encodeURIComponent(ids[2]!)}`);
    const both = await open(`${url}/?lastEventId=${encodeURIComponent(ids[0]!)}`, { "Last-Event-ID": ids[3]! });
    await until(() => channel.size === 2, 2000, "two subscribers");
    await until(() => byQuery.stream.events().length === 2 && both.stream.events().length === 1, 2000, "the replays");
    expect(byQuery.stream.events().map((e) => e.data)).toEqual(["e3", "e4"]);
    expect(both.stream.events().map((e) => e.data)).toEqual(["e4"]);
    expect(seenIds).toEqual([ids[2], ids[3]]);
    await Promise.all([byQuery.close(), both.close()]);
  });

  it("sends nothing old to a client that saw the newest event, or that comes without an id", async () => {
    const { channel, ids } = channelWith(3, { retry: 25 });
    const { port } = await resumable(channel);
    const current = await rawGet(port, "/", { "Last-Event-ID": ids[2]! });
    const fresh = await rawGet(port, "/");
    await until(() => channel.size === 2, 2000, "two subscribers");
    channel.send("live");
    await until(() => [current, fresh].every((c) => c.chunks().join("").includes("live")), 2000, "the live event");
    for (const c of [current, fresh]) expect(c.chunks().join("")).toBe(`retry: 25\n\nid: ${lastSentId(channel)}\ndata: live\n\n`);
    for (const c of [current, fresh]) c.socket.destroy();
  });

  it("applies the subscriber's filter to the replay too", async () => {
    const channel = new Channel({ history: HISTORY });
    const ids: string[] = [];
    for (const [i, room] of ["red", "blue", "red", "blue", "red"].entries()) ids.push((channel.send({ room, i }), lastSentId(channel)));
    const first = ids[0]!;
    const { url } = await resumable(channel);
    const red = await open(`${url}/?room=red`, { "Last-Event-ID": first });
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send({ room: "blue", i: 5 });
    channel.send({ room: "red", i: 6 });
    await until(() => red.stream.events().length === 3, 2000, "red events");
    expect(red.stream.events().map((e) => (JSON.parse(e.data) as { i: number }).i)).toEqual([2, 4, 6]);
    await red.close();
  });

  it("does not record an event sent with record: false", async () => {
    const { channel, ids } = channelWith(2);
    channel.send("ephemeral", { record: false });
    channel.send("kept");
    expect(channel.historySize).toBe(3);
    const { url } = await resumable(channel);
    const c = await open(url, { "Last-Event-ID": ids[0]! });
    await until(() => c.stream.events().length === 2, 2000, "the replay");
    expect(c.stream.events().map((e) => e.data)).toEqual(["e1", "kept"]);
    await c.close();
  });

  it("knows the newest id even after a frame too large for the history emptied it", async () => {
    const channel = new Channel({ history: { maxEvents: 10, maxBytes: 1024 } });
    channel.send("small");
    channel.send("L".repeat(2000));
    expect(channel.historySize).toBe(0);
    const { port } = await resumable(channel);
    const c = await rawGet(port, "/", { "Last-Event-ID": lastSentId(channel) });
    await until(() => channel.size === 1, 2000, "the subscriber");
    channel.send("next");
    await until(() => c.chunks().join("").includes("next"), 2000, "the live event");
    expect(c.chunks().join("")).toBe(`id: ${lastSentId(channel)}\ndata: next\n\n`);
    c.socket.destroy();
  });

  it("refuses to subscribe when a replay could not fit the stream's maxBufferedBytes", async () => {
    const channel = new Channel({ history: { maxEvents: 10, maxBytes: 1 << 20 } });
    const errors: unknown[] = [];
    running = await serve(withSse(async (_req, sse) => channel.subscribe(sse), { maxBufferedBytes: 256 * 1024, onError: (e) => errors.push(e) }));
    await (await fetch(running.url)).text();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RangeError);
    expect(channel.size).toBe(0);
  });
});

describe("an id the history does not hold", () => {
  it("gets a reset event by default: the id it gave as data, the newest id as id, then live events", async () => {
    const { channel, ids } = channelWith(10, { history: { maxEvents: 5, maxBytes: 64 * 1024 } });
    const { port } = await resumable(channel);
    const evicted = await rawGet(port, "/", { "Last-Event-ID": ids[2]! });
    const unknown = await rawGet(port, "/", { "Last-Event-ID": "never-sent" });
    await until(() => channel.size === 2, 2000, "two subscribers");
    channel.send("live");
    const newest = ids[9]!;
    await until(() => [evicted, unknown].every((c) => c.chunks().join("").includes("live")), 2000, "the live event");
    expect(evicted.chunks().join("")).toBe(`event: reset\nid: ${newest}\ndata: {"lastEventId":"${ids[2]}"}\n\nid: ${lastSentId(channel)}\ndata: live\n\n`);
    expect(unknown.chunks().join("")).toContain('data: {"lastEventId":"never-sent"}');
    for (const c of [evicted, unknown]) c.socket.destroy();
  });

  it("gets a reset event without an id when the channel has sent nothing yet", async () => {
    const channel = new Channel({ history: HISTORY });
    const { port } = await resumable(channel);
    const c = await rawGet(port, "/", { "Last-Event-ID": "from-an-old-server-1" });
    await until(() => c.chunks().length === 1, 2000, "the reset");
    expect(c.chunks()).toEqual(['event: reset\ndata: {"lastEventId":"from-an-old-server-1"}\n\n']);
    c.socket.destroy();
  });

  it("gets every event kept with unknownId: 'all'", async () => {
    const { channel } = channelWith(10, { history: { maxEvents: 4, maxBytes: 64 * 1024 }, unknownId: "all" });
    const { url } = await resumable(channel);
    const c = await open(url, { "Last-Event-ID": "gone" });
    await until(() => c.stream.events().length === 4, 2000, "the kept events");
    expect(c.stream.events().map((e) => e.data)).toEqual(["e6", "e7", "e8", "e9"]);
    await c.close();
  });

  it("gets 204 with unknownId: '204' and resumeFrom, using no slot; EventSource then stops", async () => {
    const { channel, ids } = channelWith(3, { unknownId: "204" });
    const { listener, seenIds, url } = await resumable(channel, { resumeFrom: channel });
    const response = await fetch(url, { headers: { "Last-Event-ID": "gone" } });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(listener.openConnections).toBe(0);
    expect(seenIds).toEqual([]);
    // A known id and no id still stream.
    const known = await open(url, { "Last-Event-ID": ids[1]! });
    await until(() => known.stream.events().length === 1, 2000, "the replay");
    await known.close();

    let requests = 0;
    const es = new EventSource(`${url}/?lastEventId=gone`, {
      fetch: (input, init) => (requests++, fetch(input, init)),
    });
    await until(() => es.readyState === es.CLOSED, 5000, "EventSource to give up");
    expect(requests).toBe(1);
    expect(seenIds).toEqual([ids[1]]);
  });

  it("gets a reset event under '204' when its id expires after the check, before subscribe", async () => {
    const { channel, ids } = channelWith(3, { history: { maxEvents: 3, maxBytes: 64 * 1024 }, unknownId: "204" });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    running = await serve(
      withSse(async (_req, sse) => {
        await gate;
        channel.subscribe(sse);
        await sse.closed;
      }, { resumeFrom: channel }),
    );
    const c = await rawGet(running.port, "/", { "Last-Event-ID": ids[0]! });
    await until(() => c.text().includes("200 OK"), 2000, "the head");
    for (let i = 3; i < 6; i++) channel.send(`e${i}`); // evicts ids[0]
    release();
    await until(() => c.chunks().length === 1, 2000, "the reset");
    expect(c.chunks()[0]).toMatch(/^event: reset\n/);
    c.socket.destroy();
  });
});

describe("the eventsource client, cut off by the server mid-stream", () => {
  it("reconnects on its own and ends with exactly the full sequence", async () => {
    const channel = new Channel({ history: { maxEvents: 1000, maxBytes: 1 << 20 }, retry: 20 });
    const { seenIds, sockets } = await resumable(channel, { keepAliveMs: 0 });
    const es = new EventSource(`${running!.url}/`);
    const got: Array<{ id: string; data: string }> = [];
    es.addEventListener("message", (e) => got.push({ id: e.lastEventId, data: e.data }));
    let n = 0;
    const sent: string[] = [];
    // Some large events, so a cut can fall inside a frame.
    const burst = (k: number) => {
      for (let i = 0; i < k; i++, n++) {
        const data = n % 7 === 3 ? `big ${n} ${"x".repeat(40_000)}` : `event ${n}`;
        sent.push(data);
        channel.send(data);
      }
    };
    await until(() => channel.size === 1, 5000, "the first connection");
    const cuts = 6;
    let whileAway = 0;
    for (let cut = 0; cut < cuts; cut++) {
      burst(10);
      await until(() => got.length === n, 5000, "the live events");
      burst(10); // in flight when the connection dies
      await new Promise((r) => setImmediate(r));
      cutNewest(sockets, cut);
      await until(() => channel.size === 0, 5000, "the server to see the cut");
      burst(5); // sent while the client is away: only a replay can bring these
      whileAway += 5;
      await until(() => channel.size === 1, 5000, "the reconnect");
    }
    burst(10);
    await until(() => got.length >= n, 10_000, "every event");
    es.close();
    expect(got.map((e) => e.data)).toEqual(sent);
    expect(new Set(got.map((e) => e.id)).size).toBe(n);
    expect(seenIds).toHaveLength(cuts + 1);
    expect(seenIds[0]).toBeUndefined();
    for (const id of seenIds.slice(1)) expect(got.map((e) => e.id)).toContain(id);
    console.log(`eventsource: ${n} events (${whileAway} sent while it was away), ${cuts} server-side cuts, ${cuts} resumes, 0 lost, 0 duplicated`);
  });
});

describe("the demo", () => {
  it("replays the chat a page missed, without the clock ticks in between", async () => {
    running = await listen(createDemoServer({ clockMs: 5 }));
    const say = (text: string) => fetch(`${running!.url}/broadcast`, { method: "POST", body: JSON.stringify({ text }) });
    const first = await open(`${running.url}/broadcast?topics=chat`);
    await say("one");
    await until(() => first.stream.events().length === 1, 2000, "the first chat");
    const lastSeen = first.stream.events()[0]!.id!;
    await first.close();
    await say("two");
    await say("three");
    const again = await open(`${running.url}/broadcast`, { "Last-Event-ID": lastSeen });
    await until(() => again.stream.events().filter((e) => e.event === "chat").length === 2, 2000, "the missed chat");
    const missed = again.stream.events().slice(0, 2);
    expect(missed.map((e) => [e.event, (JSON.parse(e.data) as { text: string }).text])).toEqual([["chat", "two"], ["chat", "three"]]);
    await again.close();
  });
});
