// SharedChannel (host/redis) in one process: two or three channels on one Redis stream, each
// behind its own withSse server, stand for the processes of a cluster; a real redis-server (on a
// free loopback port, see helpers/redis-server.ts) is killed, restarted and paused under them.
// Clients are real: raw HTTP for exact bytes, fetch with eventsource-parser, and EventSource.
import { spawn } from "node:child_process";
import type { IncomingMessage } from "node:http";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameTooLargeError, InvalidFieldError, JsonValueError } from "../bindings/index.js";
import { Channel, withSse, type ChannelFilter, type Sse, type WithSseOptions } from "../host/node/index.js";
import { BrokerError, SharedChannel, type SharedChannelOptions } from "../host/redis/index.js";
import { reader, until, type Item } from "./helpers/events.js";
import { serve } from "./helpers/listen.js";
import { rawGet, type RawClient } from "./helpers/raw.js";
import { startRedis, type RedisServer } from "./helpers/redis-server.js";
import { later } from "./helpers/cleanups.js";

const HISTORY = { maxEvents: 1000, maxBytes: 256 * 1024 };
const PREFIX = "wasm-sse:";

/** `value`, closed after the test by `cleanup`. */
const own = <T>(value: T, cleanup: (value: T) => unknown): T => (later(() => cleanup(value)), value);

/** One Redis for the tests that neither stop nor restart it; each test has its own stream. */
let shared: RedisServer;
beforeAll(async () => void (shared = await startRedis()));
afterAll(() => shared?.stop());
let streams = 0;
const streamName = () => `events-${++streams}`;

/** A "process": a SharedChannel on `redis`'s `stream`, behind its own withSse server. */
interface Node {
  readonly ch: SharedChannel;
  readonly url: string;
  readonly port: number;
  readonly errors: unknown[];
  /** Closes the server (and every stream on it); the channel stays. */
  closeServer(): Promise<void>;
}

interface NodeOptions extends Omit<SharedChannelOptions, "redis"> {
  redis?: Partial<SharedChannelOptions["redis"]>;
  sse?: WithSseOptions<IncomingMessage>;
  filter?: ChannelFilter;
  /** withSse's resumeFrom is the channel (for unknownId "204"). */
  resumeFrom?: boolean;
}

async function node(redis: RedisServer, stream: string, o: NodeOptions = {}): Promise<Node> {
  const errors: unknown[] = [];
  const { sse: sseOptions, filter, redis: r, resumeFrom, ...channelOptions } = o;
  const ch = await SharedChannel.connect({ onError: (e) => errors.push(e), ...channelOptions, redis: { url: redis.url, stream, ...r } });
  later(() => ch.close());
  const listener = withSse(async (_req: IncomingMessage, sse: Sse) => {
    ch.subscribe(sse, filter === undefined ? {} : { filter });
    await sse.closed;
  }, { keepAliveMs: 0, ...sseOptions, ...(resumeFrom && { resumeFrom: ch }), onError: (e) => errors.push(e) });
  const server = await serve(listener);
  let closed = false;
  const closeServer = async () => {
    if (!closed) await server.close();
    closed = true;
  };
  later(closeServer);
  return { ch, url: server.url, port: server.port, errors, closeServer };
}

type SseEvent = Extract<Item, { kind: "event" }>;

/** An open fetch stream parsed as it arrives; `ended` once the server ended it. */
async function open(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal, headers: { Accept: "text/event-stream", ...headers } });
  const stream = reader();
  let text = "";
  let ended = false;
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        stream.feed(chunk);
      }
      ended = true;
    } catch {
      // aborted by the test
    }
  })();
  const close = async () => (abort.abort(), await done);
  later(close);
  return {
    response,
    stream,
    events: (): SseEvent[] => stream.events(),
    datas: () => stream.events().map((e) => e.data),
    ids: () => stream.events().map((e) => e.id),
    text: () => text,
    ended: () => ended,
    done,
    close,
  };
}

/** A raw HTTP client: the body's exact bytes. */
async function raw(n: Node): Promise<RawClient> {
  const client = await rawGet(n.port, "/");
  return own(client, (c) => c.socket.destroy());
}
const body = (c: RawClient) => c.chunks().join("");

/** Entries of a stream key as redis-cli --json gives them: [id, [field, value, …]]. */
async function xrange(redis: RedisServer, key: string): Promise<Array<[string, string[]]>> {
  return JSON.parse(await redis.cli("--json", "XRANGE", key, "-", "+")) as Array<[string, string[]]>;
}
const xlen = async (redis: RedisServer, key: string) => Number(await redis.cli("XLEN", key));
const ids = async (redis: RedisServer, key: string) => (await xrange(redis, key)).map(([id]) => id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bytes an in-process Channel writes for these sends, read by a raw client. */
async function framedLocally(sends: Array<[unknown, { id?: string; event?: string; retry?: number }]>): Promise<string> {
  const channel = new Channel();
  const server = own(await serve(withSse(async (_req, sse) => (channel.subscribe(sse), await sse.closed), { keepAliveMs: 0 })), (r) => r.close());
  const client = own(await rawGet(server.port, "/"), (c) => c.socket.destroy());
  await until(() => channel.size === 1, 2000, "the reference subscriber");
  for (const [data, options] of sends) channel.send(data, options);
  const expected = sends.length;
  await until(() => (body(client).match(/\n\n/g) ?? []).length >= expected, 2000, "the reference frames");
  return body(client);
}

/** Entry ids in Redis's order. */
function compareIds(a: string, b: string): number {
  const [x, y] = [a, b].map((id) => id.split("-").map(BigInt)) as [bigint[], bigint[]];
  return x[0]! !== y[0]! ? (x[0]! < y[0]! ? -1 : 1) : x[1]! === y[1]! ? 0 : x[1]! < y[1]! ? -1 : 1;
}

/** Strictly increasing entry ids, so none twice. */
function expectIncreasing(list: Array<string | undefined>): void {
  for (let i = 1; i < list.length; i++) {
    if (compareIds(list[i - 1]!, list[i]!) >= 0) throw new Error(`ids not increasing at ${i}: ${list[i - 1]} then ${list[i]}`);
  }
}

describe("broadcast across channels", () => {
  it("delivers what any channel sends to the subscribers of all, in one order, byte-identical, under Redis's entry ids", async () => {
    const stream = streamName();
    const nodes = [await node(shared, stream), await node(shared, stream), await node(shared, stream)];
    const clients = await Promise.all(nodes.flatMap((n) => [raw(n), raw(n)]));
    await until(() => nodes.every((n) => n.ch.size === 2), 2000, "two subscribers per channel");

    const bytes = new TextEncoder().encode("bytes\nsplit é\r\nand \u2028 kept");
    const sends: Array<[number, unknown, { event?: string; retry?: number }]> = [
      [0, "plain", {}],
      [1, "line 1\nline 2\r\nline 3\rline 4", {}],
      [2, bytes, { event: "binary" }],
      [0, { text: "é \u2028 \ud83d\ude00 \"q\" </script>", list: [1, -0, 1.5e300, null, true], nested: { a: [] } }, { event: "json" }],
      [1, 42, {}],
      [2, null, { event: "nothing" }],
      [0, "with retry", { event: "tick", retry: 1234 }],
      [1, "", {}],
      [2, [{ deep: "\u0000\u001f" }], { retry: 0 }],
      [0, "lone \ud800 surrogate", { event: "é-vent" }],
      [1, { lone: "\udc00" }, {}],
      [2, "x".repeat(60_000), {}],
    ];
    // One after another, so the order is the sends'; then at once from every channel, so Redis orders them.
    const sentIds: string[] = [];
    for (const [k, data, options] of sends) sentIds.push((await nodes[k]!.ch.send(data, options))!);
    const burst = Array.from({ length: 30 }, (_, i) => nodes[i % 3]!.ch.send({ burst: i }));
    const burstIds = (await Promise.all(burst)) as string[];

    const key = PREFIX + stream;
    const logged = await xrange(shared, key);
    expect(logged.map(([id]) => id)).toEqual([...sentIds, ...[...burstIds].sort(compareIds)]);
    const total = logged.length;
    await until(() => clients.every((c) => (body(c).match(/\n\n/g) ?? []).length >= total), 5000, "every event on every client");
    const bodies = clients.map(body);
    expect(new Set(bodies).size).toBe(1);

    // What an in-process Channel frames for the same data under the same ids.
    const byId = new Map<string, [unknown, { event?: string; retry?: number }]>();
    sends.forEach(([, data, options], i) => byId.set(sentIds[i]!, [data, options]));
    burstIds.forEach((id, i) => byId.set(id, [{ burst: i }, {}]));
    const reference = await framedLocally(logged.map(([id]) => [byId.get(id)![0], { ...byId.get(id)![1], id }]));
    expect(bodies[0]).toBe(reference);

    const parsed = reader();
    parsed.feed(bodies[0]!);
    const events = parsed.events();
    expect(events.map((e) => e.id)).toEqual(logged.map(([id]) => id));
    expect(events[0]).toMatchObject({ data: "plain", event: "message" });
    expect(events[1]!.data).toBe("line 1\nline 2\nline 3\nline 4");
    expect(events[2]).toMatchObject({ event: "binary", data: "bytes\nsplit é\nand \u2028 kept" });
    expect(events[3]!.data).toBe(JSON.stringify(sends[3]![1]));
    expect(events[3]!.event).toBe("json");
    expect(events[4]!.data).toBe("42");
    expect(events[5]).toMatchObject({ event: "nothing", data: "null" });
    expect(bodies[0]).toContain(`event: tick\nid: ${sentIds[6]}\nretry: 1234\ndata: with retry\n\n`);
    expect(events[7]!.data).toBe("");
    expect(JSON.parse(events[8]!.data)).toEqual([{ deep: "\u0000\u001f" }]);
    expect(events[9]).toMatchObject({ event: "é-vent", data: "lone \ufffd surrogate" });
    expect(events[10]!.data).toBe('{"lone":"\\udc00"}');
    expect(events[11]!.data).toHaveLength(60_000);
    for (const n of nodes) {
      expect(n.ch.lastId).toBe(logged[total - 1]![0]);
      expect(n.errors).toEqual([]);
    }
  });
});

describe("send()", () => {
  it("refuses an id option and bad input with the typed error before anything is appended", async () => {
    const stream = streamName();
    const key = PREFIX + stream;
    const a = await node(shared, stream, { maxEventBytes: 256 });
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    await a.ch.send("first");
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(a.ch.send("x", { id: "1" })).rejects.toThrow(TypeError);
    await expect(a.ch.send("x", { id: "1" })).rejects.not.toThrow(JsonValueError);
    await expect(a.ch.send("x", { id: "" })).rejects.toThrow(/no id option/);
    await expect(a.ch.send("x", { event: "two\nlines" })).rejects.toThrow(InvalidFieldError);
    await expect(a.ch.send("x", "bad\rname")).rejects.toThrow(InvalidFieldError);
    await expect(a.ch.send("x", { retry: -1 })).rejects.toThrow(InvalidFieldError);
    await expect(a.ch.send({ n: 10n })).rejects.toThrow(JsonValueError);
    await expect(a.ch.send(cycle)).rejects.toThrow(JsonValueError);
    await expect(a.ch.send("x".repeat(300))).rejects.toThrow(FrameTooLargeError);
    await expect(a.ch.send("x".repeat(300), { record: false })).rejects.toThrow(FrameTooLargeError);
    // The frame is checked with the longest id Redis could give (41 characters), not this one's.
    const longest = 256 - "id: \ndata: \n\n".length - 41;
    await expect(a.ch.send("y".repeat(longest + 1))).rejects.toThrow(FrameTooLargeError);
    const fits = await a.ch.send("y".repeat(longest));
    expect(await xlen(shared, key)).toBe(2);
    await until(() => c.events().length === 2, 2000, "the two accepted events");
    expect(c.ids()).toEqual(await ids(shared, key));
    expect(c.ids()[1]).toBe(fits);
    expect(await shared.cli("EXISTS", `${key}:transient`)).toBe("0");
  });

  it("reads only the options' own properties: a polluted Object.prototype neither refuses a send (an inherited id) nor names its event", async () => {
    const a = await node(shared, streamName());
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    // Read at the call, before send() first waits: only that much runs polluted.
    for (const k of ["id", "event"]) Object.defineProperty(Object.prototype, k, { value: "pwned", enumerable: true, configurable: true, writable: true });
    let sent: Promise<string | undefined>;
    try {
      sent = a.ch.send("z", {});
    } finally {
      for (const k of ["id", "event"]) delete (Object.prototype as Record<string, unknown>)[k];
    }
    const id = await sent;
    await until(() => c.events().length === 1, 2000, "the event");
    expect(c.events()[0]).toMatchObject({ event: "message", data: "z" });
    expect(c.ids()).toEqual([id]);
  });

  it("shows filters the parsed JSON value, the bytes or string, and the options, live and in a replay from Redis", async () => {
    const stream = streamName();
    const seen: Array<[unknown, unknown]> = [];
    const filter: ChannelFilter = (data, options) => (seen.push([data, options]), !(typeof data === "object" && data !== null && "skip" in data));
    const a = await node(shared, stream, { filter });
    const id0 = await a.ch.send("before anyone subscribed");
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    const id1 = await a.ch.send({ kind: "json", list: [1, "two"] }, { event: "e", retry: 500 });
    const id2 = await a.ch.send(new Uint8Array([104, 105]));
    const id3 = await a.ch.send({ skip: true });
    await a.ch.send("transient", { record: false, event: "t" });
    const id4 = await a.ch.send("text");
    await until(() => c.events().length === 4, 2000, "the four events the filter passes");
    expect(c.datas()).toEqual(['{"kind":"json","list":[1,"two"]}', "hi", "transient", "text"]);
    const live = [
      [{ kind: "json", list: [1, "two"] }, { id: id1, event: "e", retry: 500 }],
      [new Uint8Array([104, 105]), { id: id2 }],
      [{ skip: true }, { id: id3 }],
      ["transient", { record: false, event: "t" }],
      ["text", { id: id4 }],
    ];
    expect(seen).toEqual(live);
    // A channel that joins now has none of them: the same filter sees them again, read from Redis.
    seen.length = 0;
    const b = await node(shared, stream, { filter });
    const replayed = await open(b.url, { "Last-Event-ID": id0! });
    expect(replayed.response.status).toBe(200);
    await until(() => replayed.events().length === 3, 2000, "the replay");
    expect(replayed.ids()).toEqual([id1, id2, id4]);
    expect(seen).toEqual(live.filter(([, o]) => (o as { record?: boolean }).record !== false));
  });

  it("skips, and tells onError of, an entry someone else put in the stream, live and in a replay", async () => {
    const stream = streamName();
    const key = PREFIX + stream;
    const a = await node(shared, stream);
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    const first = await a.ch.send("first");
    const foreign = await shared.cli("XADD", key, "*", "other", "app");
    const badJson = await shared.cli("XADD", key, "*", "t", "j", "d", "{not json");
    const last = await a.ch.send("last");
    await until(() => c.events().length === 2, 2000, "the two events");
    expect(c.ids()).toEqual([first, last]);
    await until(() => a.errors.length === 2, 2000, "onError told twice");
    expect(a.errors.map((e) => (e as Error).message)).toEqual([
      `entry ${foreign} of ${key} is not a wasm-sse event; skipped`,
      `entry ${badJson} of ${key} is not a wasm-sse event; skipped`,
    ]);
    const b = await node(shared, stream);
    const replayed = await open(b.url, { "Last-Event-ID": first! });
    await until(() => replayed.events().length === 1, 2000, "the replay");
    await sleep(50);
    expect(replayed.ids()).toEqual([last]);
    expect(b.errors).toHaveLength(2);
  });
});

/**
 * An EventSource on `url`, recording every event it dispatches and the Last-Event-ID of each
 * request; `route` picks (and may delay) the URL of each connection after the first.
 */
function eventSource(url: string, route?: (attempt: number) => string | Promise<string>) {
  let attempt = 0;
  const lastEventIds: Array<string | undefined> = [];
  const es = new EventSource(url, {
    fetch: async (input, init) => {
      const n = attempt++;
      lastEventIds.push(new Headers(init?.headers).get("last-event-id") ?? undefined);
      return fetch(n === 0 || route === undefined ? input : await route(n), init);
    },
  });
  const got: Array<{ type: string; data: string }> = [];
  const record = (e: MessageEvent) => got.push({ type: e.type, data: e.data as string });
  for (const type of ["message", "reset", "note"]) es.addEventListener(type, record);
  later(() => es.close());
  return { es, got, lastEventIds };
}

describe("transient events (record: false)", () => {
  it("reach every channel's subscribers without an id, move no client's place, and are never replayed", async () => {
    const stream = streamName();
    const key = PREFIX + stream;
    const a = await node(shared, stream, { history: HISTORY, retry: 20 });
    const b = await node(shared, stream, { history: HISTORY });
    let away!: () => void;
    const back = new Promise<void>((r) => (away = r));
    const onA = eventSource(a.url, async () => (await back, b.url));
    const onB = await open(b.url);
    await until(() => a.ch.size === 1 && b.ch.size === 1, 2000, "a subscriber on each channel");
    const r1 = await a.ch.send("r1");
    expect(await b.ch.send("t1", { record: false, event: "note" })).toBeUndefined();
    expect(await a.ch.send({ t: 2 }, { record: false })).toBeUndefined();
    await until(() => onA.got.length === 3 && onB.events().length === 3, 2000, "three events on each");
    expect(onA.got).toEqual([
      { type: "message", data: "r1" },
      { type: "note", data: "t1" },
      { type: "message", data: '{"t":2}' },
    ]);
    expect(onB.text()).toBe(`id: ${r1}\ndata: r1\n\nevent: note\ndata: t1\n\ndata: {"t":2}\n\n`);
    expect(b.ch.lastId).toBe(r1);
    expect(a.ch.lastId).toBe(r1);

    // Away: more of both kinds. Back: the EventSource on B (whose history holds r1), a fetch on C (connected now: Redis).
    await a.closeServer();
    await onB.close();
    await b.ch.send("t3", { record: false });
    const r2 = await b.ch.send("r2");
    await a.ch.send("t4", { record: false });
    const c = await node(shared, stream, { history: HISTORY });
    away();
    const fromRedis = await open(c.url, { "Last-Event-ID": r1! });
    await until(() => b.ch.size === 1 && c.ch.size === 1, 2000, "the resumed subscribers");
    const r3 = await c.ch.send("r3");
    await until(() => onA.got.length === 5 && fromRedis.events().length === 2, 2000, "the missed and the live event");
    await sleep(50);
    expect(onA.lastEventIds).toEqual([undefined, r1]);
    expect(onA.got.slice(3)).toEqual([
      { type: "message", data: "r2" },
      { type: "message", data: "r3" },
    ]);
    expect(fromRedis.events().map((e) => [e.id, e.data])).toEqual([[r2, "r2"], [r3, "r3"]]);
    expect(await ids(shared, key)).toEqual([r1, r2, r3]);
    expect((await xrange(shared, `${key}:transient`)).map(([, f]) => f[f.indexOf("d") + 1])).toEqual(["t1", '{"t":2}', "t3", "t4"]);
  });
});

/** Sends `n0`, `n1`… from the channels in turn until stopped; records what each send did. */
function publisher(channels: SharedChannel[], pauseMs = 0) {
  const resolved: string[] = [];
  const rejected: Array<{ data: string; error: unknown; ms: number }> = [];
  let stop = false;
  let n = 0;
  const done = (async () => {
    while (!stop) {
      const data = `n${n}`;
      const started = performance.now();
      try {
        resolved.push((await channels[n % channels.length]!.send(data))!);
      } catch (error) {
        rejected.push({ data, error, ms: performance.now() - started });
      }
      n++;
      if (pauseMs > 0) await sleep(pauseMs);
      else if (n % 20 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  later(() => ((stop = true), done));
  return { resolved, rejected, sent: () => n, stop: async () => ((stop = true), await done) };
}

describe("resuming on any channel", () => {
  it("replays exactly what a client missed from Redis or a channel's history, then live, while events keep coming", async () => {
    const stream = streamName();
    const key = PREFIX + stream;
    const a = await node(shared, stream, { history: HISTORY });
    const c = await node(shared, stream);
    const first = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the first subscriber");
    for (let i = 0; i < 10; i++) await a.ch.send(`e${i}`);
    await until(() => first.events().length === 10, 2000, "ten events");
    await first.close();
    for (let i = 10; i < 20; i++) await c.ch.send(`e${i}`);

    // Moves, each while sends from two channels go on: to channels connected after the events
    // (empty history: Redis), and back to ones whose history holds the id (local).
    const seen: SseEvent[] = [...first.events()];
    const pub = publisher([a.ch, c.ch]);
    const existing = [a, c];
    for (let move = 0; move < 12; move++) {
      const fresh = move % 3 !== 1;
      const to = fresh ? await node(shared, stream, move % 2 === 0 ? { history: HISTORY } : {}) : existing[move % 2]!;
      if (fresh) existing.push(to);
      const before = pub.sent();
      const client = await open(to.url, { "Last-Event-ID": seen.at(-1)!.id! });
      expect(client.response.status).toBe(200);
      await until(() => pub.sent() > before + 30 && client.events().length > 0, 5000, `live events after move ${move}`);
      await client.close();
      seen.push(...client.events());
    }
    await pub.stop();
    expect(pub.rejected).toEqual([]);
    const last = await open(existing.at(-1)!.url, { "Last-Event-ID": seen.at(-1)!.id! });
    const logged = await xrange(shared, key);
    await until(() => last.events().at(-1)?.id === logged.at(-1)![0] || seen.at(-1)!.id === logged.at(-1)![0], 5000, "the rest");
    seen.push(...last.events());
    expect(seen.filter((e) => e.event !== "message")).toEqual([]);
    expect(seen.map((e) => e.id)).toEqual(logged.map(([id]) => id));
    expect(seen.map((e) => e.data)).toEqual(logged.map(([, f]) => f[f.indexOf("d") + 1]));
    expect(seen.length).toBeGreaterThan(20 + 12 * 30);
    for (const n of existing) expect(n.errors).toEqual([]);
  });

  it("moves an EventSource to a channel connected after its events: the missed ones from Redis, nothing twice", async () => {
    const stream = streamName();
    const a = await node(shared, stream, { retry: 20 });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await a.ch.send(`e${i}`))!);
    let b: Node | undefined;
    let move!: () => void;
    const moved = new Promise<void>((r) => (move = r));
    const es = eventSource(`${a.url}/?lastEventId=${sent[1]}`, async () => (await moved, b!.url));
    await until(() => es.got.length === 3, 2000, "the replay from Redis on A");
    sent.push((await a.ch.send("e5"))!);
    await until(() => es.got.length === 4, 2000, "a live event");
    await a.closeServer();
    for (let i = 6; i < 9; i++) sent.push((await a.ch.send(`e${i}`))!);
    b = await node(shared, stream, { history: HISTORY });
    move();
    await until(() => b!.ch.size === 1, 2000, "the EventSource on B");
    sent.push((await b.ch.send("e9"))!);
    await until(() => es.got.length === 8, 2000, "the missed events and a live one");
    await sleep(50);
    expect(es.lastEventIds).toEqual([undefined, sent[5]]);
    expect(es.got.map((e) => e.data)).toEqual(["e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"]);
    expect(b.errors).toEqual([]);
  });

  it("resumes a client that missed nothing on a channel connected after its last event, with or without a history", async () => {
    for (const history of [undefined, HISTORY]) {
      const stream = streamName();
      const a = await node(shared, stream);
      const newest = await a.ch.send("only");
      const b = await node(shared, stream, { history, retry: 300 });
      expect(b.ch.lastId).toBe(newest);
      expect(await b.ch.resumes(newest)).toBe(true);
      const c = await open(b.url, { "Last-Event-ID": newest! });
      await until(() => b.ch.size === 1, 2000, "the subscriber");
      const next = await a.ch.send("next");
      await until(() => c.events().length > 0, 2000, "the next event");
      await sleep(50);
      expect(c.text()).toBe(`retry: 300\n\nid: ${next}\ndata: next\n\n`);
    }
  });
});

/** Redis trims a MAXLEN ~ stream by whole nodes of the radix tree: up to this many entries more. */
async function trimSlack(redis: RedisServer): Promise<number> {
  return Number((await redis.cli("CONFIG", "GET", "stream-node-max-entries")).split("\n")[1]);
}

describe("an id the channel cannot resume", () => {
  /** A stream of 250 events kept to about 10 in Redis, and another stream's id. */
  async function trimmedStream(o: NodeOptions = {}) {
    const stream = streamName();
    const key = PREFIX + stream;
    const a = await node(shared, stream, { ...o, redis: { maxLen: 10, transientMaxLen: 10 } });
    const sent = (await Promise.all(Array.from({ length: 250 }, (_, i) => a.ch.send(`e${i}`)))) as string[];
    await Promise.all(Array.from({ length: 250 }, (_, i) => a.ch.send(`t${i}`, { record: false })));
    const elsewhere = (await (await node(shared, streamName())).ch.send("other stream"))!;
    const kept = await ids(shared, key);
    const slack = await trimSlack(shared);
    expect(kept.length).toBeGreaterThanOrEqual(10);
    expect(kept.length).toBeLessThanOrEqual(10 + slack);
    expect(await xlen(shared, `${key}:transient`)).toBeLessThanOrEqual(10 + slack);
    expect(kept).toEqual(sent.slice(-kept.length));
    expect(await shared.cli("XRANGE", key, sent[0]!, sent[0]!)).toBe(""); // really gone
    await until(() => a.ch.lastId === sent.at(-1), 2000, "the reader");
    return { stream, key, a, sent, elsewhere, kept };
  }

  it("gets a reset event naming it, with the newest id: malformed, another stream's, trimmed, or more missed than replayLimit", async () => {
    const { stream, sent, elsewhere, kept } = await trimmedStream();
    for (const history of [undefined, HISTORY]) {
      const b = await node(shared, stream, { replayLimit: 5, history });
      const newest = sent.at(-1)!;
      const cases = ["garbage", "18446744073709551616-0", "01-1", elsewhere, sent[0]!, sent.at(-7)!];
      for (const given of cases) {
        expect(await b.ch.resumes(given)).toBe(false);
        const c = await open(b.url, { "Last-Event-ID": given });
        await until(() => c.events().length === 1, 2000, `the reset for ${given}`);
        expect(c.events()[0]).toEqual({ kind: "event", event: "reset", data: JSON.stringify({ lastEventId: given }), id: newest });
        await c.close();
      }
      // Five missed: replayed.
      expect(await b.ch.resumes(sent.at(-6)!)).toBe(true);
      const c = await open(b.url, { "Last-Event-ID": sent.at(-6)! });
      await until(() => c.events().length === 5, 2000, "the replay");
      expect(c.ids()).toEqual(sent.slice(-5));
      expect(kept.length).toBeGreaterThan(6);
    }
  });

  it("gets 204 with unknownId '204' and withSse's resumeFrom, once Redis said so; a resumable one streams", async () => {
    const { stream, sent, elsewhere } = await trimmedStream();
    const b = await node(shared, stream, { replayLimit: 5, unknownId: "204", resumeFrom: true });
    for (const given of ["garbage", elsewhere, sent[0]!, sent.at(-7)!]) {
      const response = await fetch(b.url, { headers: { Accept: "text/event-stream", "Last-Event-ID": given } });
      expect(response.status, given).toBe(204);
      expect(await response.text()).toBe("");
    }
    // Five missed; none (the newest); no id.
    for (const missed of [5, 0, undefined]) {
      const given = missed === undefined ? undefined : sent.at(-1 - missed)!;
      const expected = missed === undefined || missed === 0 ? [] : sent.slice(-missed);
      const c = await open(b.url, given === undefined ? {} : { "Last-Event-ID": given });
      expect(c.response.status).toBe(200);
      await until(() => b.ch.size === 1, 2000, "the subscriber");
      const live = await b.ch.send("live");
      await until(() => c.ids().includes(live), 2000, "the live event");
      expect(c.ids()).toEqual([...expected, live]);
      await c.close();
      await until(() => b.ch.size === 0, 2000, "the subscriber gone");
      sent.push(live!);
    }
  });

  it("gets what this process's history holds with unknownId 'all'", async () => {
    const stream = streamName();
    const a = await node(shared, stream);
    const old = await a.ch.send("before B");
    const withHistory = await node(shared, stream, { history: HISTORY, unknownId: "all" });
    const without = await node(shared, stream, { unknownId: "all" });
    const e1 = await a.ch.send("e1");
    const e2 = await a.ch.send("e2", { event: "named" });
    await until(() => withHistory.ch.lastId === e2 && withHistory.ch.historySize === 2, 2000, "B's history");
    for (const [n, expected] of [[withHistory, [e1, e2]], [without, []]] as const) {
      const c = await open(n.url, { "Last-Event-ID": "garbage" });
      await until(() => n.ch.size === 1, 2000, "the subscriber");
      const live = await a.ch.send("live");
      await until(() => c.ids().includes(live), 2000, "the live event");
      expect(c.ids()).toEqual([...expected, live]);
      expect(c.events().map((e) => e.event)).not.toContain("reset");
      await c.close();
    }
    expect(old).toBeDefined();
  });
});

describe("security", () => {
  it("works with requirepass, an ACL user and TLS; refuses a wrong password without telling it; keeps apps apart by prefix", async () => {
    const redis = own(await startRedis({ password: "pass-Word-1", user: { name: "app", password: "user-Secret-2" }, tls: true }), (r) => r.stop());
    const stream = "events";
    const port = redis.port;
    const acl = await node(redis, stream);
    const requirepass = await node(redis, stream, { redis: { url: `redis://default:pass-Word-1@127.0.0.1:${port}` } });
    const tls = await node(redis, stream, { redis: { url: redis.tlsUrl!, client: { socket: { tls: true, ca: redis.ca! } } } });
    const clients = await Promise.all([acl, requirepass, tls].map((n) => open(n.url)));
    await until(() => [acl, requirepass, tls].every((n) => n.ch.size === 1), 2000, "a subscriber on each");
    const sent = [await acl.ch.send("over ACL"), await requirepass.ch.send("over requirepass"), await tls.ch.send("over TLS")];
    await until(() => clients.every((c) => c.events().length === 3), 2000, "every event on every client");
    for (const c of clients) expect(c.events().map((e) => [e.id, e.data])).toEqual([[sent[0], "over ACL"], [sent[1], "over requirepass"], [sent[2], "over TLS"]]);

    const refused = async (url: string, client?: Record<string, unknown>) => {
      const error = await SharedChannel.connect({ redis: { url, stream, client } }).then(
        (ch) => (void ch.close(), undefined),
        (e: unknown) => e,
      );
      expect(error, url).toBeInstanceOf(BrokerError);
      return (error as Error).message;
    };
    for (const url of [`redis://app:Wrong-Secret-3@127.0.0.1:${port}`, `redis://:Wrong-Secret-3@127.0.0.1:${port}`, `redis://default:Wrong-Secret-3@127.0.0.1:${port}`]) {
      const message = await refused(url);
      expect(message).toMatch(/WRONGPASS|invalid/i);
      expect(message).not.toContain("Wrong-Secret-3");
    }
    expect(await refused(`redis://127.0.0.1:${port}`)).toMatch(/NOAUTH|auth/i); // no password at all
    expect(await refused(redis.tlsUrl!, { socket: { tls: true } })).not.toContain("user-Secret-2"); // a certificate Node does not trust
    expect(await refused(`redis://127.0.0.1:1`)).toMatch(/cannot connect/);

    // Two apps on one Redis, one stream name, two prefixes.
    const one = await node(redis, "shared-name", { redis: { prefix: "app-one:" } });
    const two = await node(redis, "shared-name", { redis: { prefix: "app-two:" } });
    const [c1, c2] = [await open(one.url), await open(two.url)];
    await until(() => one.ch.size === 1 && two.ch.size === 1, 2000, "a subscriber on each app");
    const id1 = await one.ch.send("for app one");
    await one.ch.send("transient one", { record: false });
    const id2 = await two.ch.send("for app two");
    const marker = await acl.ch.send("marker");
    await until(() => clients[0]!.ids().includes(marker) && c1.events().length === 2 && c2.events().length === 1, 2000, "each app's events");
    await sleep(50);
    expect(c1.events().map((e) => [e.id, e.data])).toEqual([[id1, "for app one"], [undefined, "transient one"]]);
    expect(c2.events().map((e) => [e.id, e.data])).toEqual([[id2, "for app two"]]);
    expect(clients[0]!.datas()).not.toContain("for app one");
    expect((await redis.cli("KEYS", "*")).split("\n").sort()).toEqual(["app-one:shared-name", "app-one:shared-name:transient", "app-two:shared-name", "wasm-sse:events"]);
  });
});

/** A BrokerError the channel reported (not a handler's error withSse reported). */
const brokerErrors = (n: Node) => n.errors.filter((e): e is BrokerError => e instanceof BrokerError);

describe("Redis killed and restarted", () => {
  it("keeps streams open through kill -9, refuses sends at once, and delivers every acknowledged event exactly once after an AOF restart", async () => {
    const redis = own(await startRedis({ aof: true }), (r) => r.stop());
    const stream = "events";
    const key = PREFIX + stream;
    const sse = { keepAliveMs: 100 };
    const a = await node(redis, stream, { history: HISTORY, retry: 500, sse });
    const b = await node(redis, stream, { sse });
    const onA = await open(a.url);
    const onB = await open(b.url);
    await until(() => a.ch.size === 1 && b.ch.size === 1, 2000, "a subscriber on each");
    const pub = publisher([a.ch, b.ch], 3);
    await until(() => pub.resolved.length >= 40, 5000, "sends before the kill");

    await redis.kill9();
    await until(() => !a.ch.connected && !b.ch.connected, 2000, "both readers to see the outage");
    const down = { comments: [onA.stream.comments().length, onB.stream.comments().length], rejected: pub.rejected.length };
    for (const n of [a, b]) {
      const started = performance.now();
      const error = await n.ch.send("during the outage").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerError);
      expect(performance.now() - started).toBeLessThan(100);
    }
    // A client this process cannot serve without Redis: 200, a retry, the end. One it can (A's
    // history holds its id; B read its id last; no id) stays.
    const older = onA.events().at(-5)!.id!;
    const refusedOnA = await open(a.url, { "Last-Event-ID": "1-0" });
    const refusedOnB = await open(b.url, { "Last-Event-ID": older });
    const fromHistory = await open(a.url, { "Last-Event-ID": older });
    const newestOnB = await open(b.url, { "Last-Event-ID": b.ch.lastId! });
    const withoutId = await open(b.url);
    for (const [c, retry] of [[refusedOnA, 500], [refusedOnB, 1000]] as const) {
      await until(() => c.ended(), 2000, "the refused stream's end");
      expect(c.response.status).toBe(200);
      expect(c.ended()).toBe(true);
      expect(c.text()).toBe(`retry: ${retry}\n\n`);
    }
    await until(() => a.ch.size === 2 && b.ch.size === 3, 2000, "the clients that stay");
    expect(fromHistory.ids()).toEqual(onA.ids().slice(-4));
    // keepAliveMs is 100: comments go on while Redis is gone.
    await until(() => onA.stream.comments().length >= down.comments[0]! + 3 && onB.stream.comments().length >= down.comments[1]! + 3, 3000, "keep-alive comments during the outage");
    expect(a.ch.connected || b.ch.connected).toBe(false);
    expect(pub.rejected.length).toBeGreaterThan(down.rejected);

    await redis.restart({ keepData: true });
    await until(() => a.ch.connected && b.ch.connected, 5000, "both readers back");
    const back = pub.resolved.length;
    await until(() => pub.resolved.length >= back + 40, 5000, "sends after the restart");
    await pub.stop();

    const logged = await xrange(redis, key);
    const loggedIds = logged.map(([id]) => id);
    expect(loggedIds).toEqual(expect.arrayContaining(pub.resolved));
    const dataOf = new Map(logged.map(([id, f]) => [id, f[f.indexOf("d") + 1]]));
    for (const c of [onA, onB, fromHistory, newestOnB, withoutId]) {
      await until(() => c.ids().at(-1) === loggedIds.at(-1), 5000, "every event");
      expectIncreasing(c.ids());
      const from = loggedIds.indexOf(c.ids()[0]!);
      expect(c.ids()).toEqual(loggedIds.slice(from));
      expect(c.datas()).toEqual(c.ids().map((id) => dataOf.get(id!)));
      expect(c.events().every((e) => e.event === "message")).toBe(true);
    }
    expect(onA.ids()).toEqual(loggedIds);
    expect(onB.ids()).toEqual(loggedIds);
    // Every send that failed failed at once, and none was lost that Redis acknowledged.
    expect(pub.rejected.every((r) => r.error instanceof BrokerError && r.ms < 100)).toBe(true);
    expect(pub.rejected.length).toBeGreaterThan(0);
    for (const n of [a, b]) {
      const errors = brokerErrors(n);
      expect(errors.length).toBe(1); // told once per outage
      expect(errors[0]!.message).not.toMatch(/no longer holds/);
    }
  });

  it("tells a reader's subscribers when Redis trimmed past it while it lagged, and never delivers an event twice", async () => {
    const stream = streamName();
    const a = await node(shared, stream, { redis: { maxLen: 10 } });
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    // 2,000 sends at once: the reader's reads return more than MAXLEN entries each, trimmed in between.
    const sent = (await Promise.all(Array.from({ length: 2000 }, (_, i) => a.ch.send(`e${i}`)))) as string[];
    await until(() => a.ch.lastId === sent.at(-1), 5000, "the reader");
    await until(() => c.ids().includes(sent.at(-1)), 2000, "the last event");
    const resets = c.events().filter((e) => e.event === "reset");
    expect(resets.length).toBeGreaterThan(0);
    expect(brokerErrors(a).filter((e) => /no longer holds/.test(e.message))).toHaveLength(resets.length);
    const delivered = c.events().filter((e) => e.event !== "reset").map((e) => e.id!);
    expect(new Set(delivered).size).toBe(delivered.length);
    const order = new Map(sent.map((id, i) => [id, i]));
    expect(delivered.every((id, i) => i === 0 || order.get(id)! > order.get(delivered[i - 1]!)!)).toBe(true);
    // Every run of events between two resets has no hole: each gap was told.
    let run = -1;
    for (const e of c.events()) {
      if (e.event === "reset") run = -1;
      else {
        const at = order.get(e.id!)!;
        if (run !== -1) expect(at).toBe(run + 1);
        run = at;
      }
    }
  });

  it("gives up connecting to a Redis that never answers (paused) after connectTimeoutMs, with BrokerError", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    redis.pause();
    later(() => redis.resume());
    const started = Date.now();
    const error = await SharedChannel.connect({ redis: { url: redis.url, stream: "s", connectTimeoutMs: 300 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("tells every live subscriber, and a client back with an old id, that events may be lost when Redis restarts empty", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    const stream = "events";
    const a = await node(redis, stream, { history: HISTORY });
    const b = await node(redis, stream, { sse: { keepAliveMs: 100 } });
    const onA = await open(a.url);
    const onB = await open(b.url);
    await until(() => a.ch.size === 1 && b.ch.size === 1, 2000, "a subscriber on each");
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push((await a.ch.send(`old ${i}`))!);
    await until(() => onA.events().length === 5 && onB.events().length === 5, 2000, "the events before");

    await redis.kill9();
    await redis.restart({ keepData: false });
    expect(await redis.cli("EXISTS", PREFIX + stream)).toBe("0");
    const lost = (n: Node) => brokerErrors(n).some((e) => /no longer holds/.test(e.message));
    await until(() => lost(a) && lost(b), 5000, "both channels to tell onError of the loss");
    for (const c of [onA, onB]) {
      await until(() => c.events().length === 6, 2000, "the reset");
      expect(c.events()[5]).toMatchObject({ event: "reset", data: JSON.stringify({ lastEventId: before[4] }) });
    }
    expect(a.ch.historySize).toBe(0);
    expect(onA.ended() || onB.ended()).toBe(false);

    const after = await b.ch.send("new");
    expect(compareIds(after!, before[4]!)).toBeGreaterThan(0);
    await until(() => onA.ids().includes(after) && onB.ids().includes(after), 2000, "the new event on both");
    for (const [n, old] of [[a, before[2]!], [b, before[4]!], [a, before[4]!]] as const) {
      expect(await n.ch.resumes(old)).toBe(false);
      const c = await open(n.url, { "Last-Event-ID": old });
      await until(() => c.events().length === 1, 2000, "the reset for an old id");
      expect(c.events()[0]).toEqual({ kind: "event", event: "reset", data: JSON.stringify({ lastEventId: old }), id: after });
      await c.close();
    }
    const next = await a.ch.send("next");
    for (const c of [onA, onB]) {
      await until(() => c.ids().includes(next), 2000, "the next event");
      expect(c.events().slice(5).map((e) => e.event === "reset" ? "reset" : e.data)).toEqual(["reset", "new", "next"]);
    }
  });
});

describe("Redis paused (SIGSTOP)", () => {
  it("keeps streams up and the event loop free for 3 s; a send made meanwhile resolves after SIGCONT; nothing lost or doubled", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    later(() => redis.resume());
    const stream = "events";
    const key = PREFIX + stream;
    const sse = { keepAliveMs: 100 };
    const a = await node(redis, stream, { history: HISTORY, sse });
    const b = await node(redis, stream, { sse });
    const onA = await open(a.url);
    const onB = await open(b.url);
    // An in-process Channel beside them, on its own server.
    const local = new Channel();
    const localServer = own(await serve(withSse(async (_req, s) => (local.subscribe(s), await s.closed), { keepAliveMs: 0 })), (r) => r.close());
    const onLocal = await open(localServer.url);
    await until(() => a.ch.size === 1 && b.ch.size === 1 && local.size === 1, 2000, "the subscribers");
    const first = [await a.ch.send("before 1"), await b.ch.send("before 2")];
    await until(() => onA.events().length === 2 && onB.events().length === 2, 2000, "the events before");

    // A 10 ms interval: ticks counted, and the longest wait between two.
    let ticks = 0;
    let lastTick = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      ticks++;
      longestGap = Math.max(longestGap, performance.now() - lastTick);
      lastTick = performance.now();
    }, 10);
    later(() => clearInterval(ticker));
    redis.pause();
    const paused = performance.now();
    const comments = [onA.stream.comments().length, onB.stream.comments().length];
    let settled: string | undefined;
    const during = a.ch.send("sent while paused").then((id) => ((settled = "resolved"), id), (e: unknown) => ((settled = "rejected"), Promise.reject(e)));
    const duringB = b.ch.send("also while paused");
    // B has no history: this client is resumed from Redis, which answers after SIGCONT.
    const resuming = await open(b.url, { "Last-Event-ID": first[0]! });
    for (let i = 0; i < 12; i++) {
      local.send(`local ${i}`);
      await sleep(250);
    }
    const elapsed = performance.now() - paused;
    expect(elapsed).toBeGreaterThanOrEqual(3000);
    expect(onLocal.datas()).toEqual(Array.from({ length: 12 }, (_, i) => `local ${i}`));
    expect(ticks).toBeGreaterThan(elapsed / 100);
    expect(longestGap).toBeLessThan(1000);
    expect(onA.stream.comments().length - comments[0]!).toBeGreaterThanOrEqual(10);
    expect(onB.stream.comments().length - comments[1]!).toBeGreaterThanOrEqual(10);
    expect(settled).toBeUndefined();
    expect(resuming.events()).toEqual([]);
    expect(a.ch.connected && b.ch.connected).toBe(true);
    expect(onA.ended() || onB.ended() || resuming.ended()).toBe(false);

    redis.resume();
    const resumed = performance.now();
    const id = await during;
    const idB = await duringB;
    expect(performance.now() - resumed).toBeLessThan(2000);
    const after = await b.ch.send("after");
    const logged = await ids(redis, key);
    expect(logged).toEqual([...first, ...[id!, idB!].sort(compareIds), after]);
    for (const c of [onA, onB]) {
      await until(() => c.ids().at(-1) === after, 2000, "every event");
      expect(c.ids()).toEqual(logged);
    }
    await until(() => resuming.ids().at(-1) === after, 2000, "the replay and live");
    expect(resuming.ids()).toEqual(logged.slice(1));
    for (const n of [a, b]) expect(brokerErrors(n)).toEqual([]);
  });
});

/**
 * Runs helpers/redis-close-child.ts: whether it exited by itself within `graceMs` of printing
 * its event's id (it is killed then, or after 20 s in all), and what it printed.
 */
function child(url: string, stream: string, mode: "close" | "keep", graceMs: number): Promise<{ exited: boolean; code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ["--import", "tsx", "test/helpers/redis-close-child.ts", url, stream, mode], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let grace: NodeJS.Timeout | undefined;
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      grace ??= setTimeout(() => proc.kill("SIGKILL"), graceMs);
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      resolve({ exited: signal === null, code, out, err });
    });
  });
}

describe("a client that goes while its replay is read from Redis", () => {
  it("leaves at once: the channel's size drops, and nothing is joined when the read returns", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    const a = await node(redis, "events");
    const first = (await a.ch.send("first"))!;
    await a.ch.send("second");
    const b = await node(redis, "events"); // connected after both: its history holds neither
    redis.pause();
    later(() => redis.resume());
    const c = await open(b.url, { "Last-Event-ID": first });
    await until(() => b.ch.size === 1, 2000, "the joining subscriber");
    await c.close();
    await until(() => b.ch.size === 0, 2000, "the subscriber to leave while Redis is paused");
    redis.resume();
    const third = await b.ch.send("third");
    await until(() => b.ch.lastId === third, 5000, "the reader after SIGCONT");
    expect(b.ch.size).toBe(0);
  });
});

describe("Redis paused longer than commandTimeoutMs", () => {
  it("rejects a send with BrokerError after the timeout, keeps streams up, and recovers with the event at most once", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    const a = await node(redis, "events", { redis: { commandTimeoutMs: 400 }, sse: { keepAliveMs: 100 } });
    const c = await open(a.url);
    await until(() => a.ch.size === 1, 2000, "the subscriber");
    const before = await a.ch.send("before");
    await until(() => c.ids().includes(before), 2000, "the first event");
    redis.pause();
    const started = Date.now();
    const error = await a.ch.send("while paused").catch((e: unknown) => e);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(BrokerError);
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(1500);
    const comments = c.text().split(":\n").length;
    await new Promise((r) => setTimeout(r, 500));
    expect(c.text().split(":\n").length).toBeGreaterThan(comments); // keep-alives flow meanwhile
    redis.resume();
    let after: string | undefined;
    for (const end = Date.now() + 5000; after === undefined && Date.now() < end; ) {
      after = await a.ch.send("after").catch(() => new Promise<undefined>((r) => setTimeout(r, 50)));
    }
    await until(() => c.ids().includes(after), 5000, "the event after");
    const datas = c.datas();
    expect(datas.filter((d) => d === "while paused").length).toBeLessThanOrEqual(1); // appended when Redis woke, or not
    expect(datas.filter((d) => d === "after").length).toBe(1);
    expect(c.ended()).toBe(false);
  });
});

describe("many channels in one process", () => {
  it("share two Redis connections and one blocking read; a channel connected while the read waits gets its events at once", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    const clients = async () => (await redis.cli("CLIENT", "LIST")).split("\n").filter((l) => !/ name=redis-cli| cmd=client\|list/.test(l) && l.trim() !== "").length;
    const nodes: Node[] = [];
    for (let i = 0; i < 5; i++) {
      nodes.push(await node(redis, `room-${i}`));
      await sleep(50); // the read in flight is blocked when the next channel connects
      const c = await open(nodes[i]!.url);
      await until(() => nodes[i]!.ch.size === 1, 2000, "the subscriber");
      const started = Date.now();
      const id = await nodes[i]!.ch.send(`hello ${i}`);
      await until(() => c.ids().includes(id), 1500, `room ${i}'s event`);
      expect(Date.now() - started).toBeLessThan(1000); // not the 2 s the blocked read would have waited
    }
    expect(await clients()).toBe(2);
    for (const n of nodes) await n.ch.close();
    let left = await clients();
    for (const end = Date.now() + 2000; left > 0 && Date.now() < end; left = await clients()) await sleep(50);
    expect(left).toBe(0);
  });
});

describe("close()", () => {
  it("stops the reader: later sends reject, its streams stay open without new events, and it is idempotent", async () => {
    const stream = streamName();
    const a = await node(shared, stream, { history: HISTORY });
    const b = await node(shared, stream);
    const onA = await open(a.url);
    const onB = await open(b.url);
    await until(() => a.ch.size === 1 && b.ch.size === 1, 2000, "a subscriber on each");
    const first = await a.ch.send("before");
    await until(() => onA.events().length === 1 && onB.events().length === 1, 2000, "the first event");
    await a.ch.close();
    await a.ch.close();
    const commands = a.ch.redisCommands;
    await expect(a.ch.send("after close")).rejects.toThrow(BrokerError);
    await expect(a.ch.send("after close", { record: false })).rejects.toThrow(BrokerError);
    const second = await b.ch.send("after A closed");
    await until(() => onB.events().length === 2, 2000, "B's client");
    await sleep(300);
    expect(onA.ids()).toEqual([first]);
    expect(onA.ended()).toBe(false);
    expect(a.ch.redisCommands).toBe(commands);
    expect(await ids(shared, PREFIX + stream)).toEqual([first, second]);
  });

  it("ends a command a paused Redis never answers within about a second", async () => {
    const redis = own(await startRedis(), (r) => r.stop());
    later(() => redis.resume());
    const ch = await SharedChannel.connect({ redis: { url: redis.url, stream: "events" }, onError: () => {} });
    later(() => ch.close());
    redis.pause();
    const pending = ch.send("never answered").catch((e: unknown) => e);
    await sleep(100);
    const started = performance.now();
    await ch.close();
    expect(performance.now() - started).toBeLessThan(1500);
    expect(await pending).toBeInstanceOf(BrokerError);
  });

  it("leaves nothing that keeps a process alive (a process that does not close it does not exit)", async () => {
    const [one, two] = [streamName(), streamName()];
    const [closing, keeping] = await Promise.all([child(shared.url, one, "close", 3000), child(shared.url, two, "keep", 2000)]);
    expect(closing.err).toBe("");
    expect(closing).toMatchObject({ exited: true, code: 0 });
    expect(keeping).toMatchObject({ exited: false, err: "" }); // killed 2 s after its send
    expect(await ids(shared, PREFIX + one)).toEqual([closing.out.trim()]);
    expect(await ids(shared, PREFIX + two)).toEqual([keeping.out.trim()]);
  });
});
