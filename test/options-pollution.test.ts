// A send's options are read as JSON.stringify reads a value: own properties only, each once.
// A key someone put on Object.prototype (prototype pollution) must not change what goes on the
// wire (an event name, an id, a retry for every client) nor make every send throw; a getter
// runs once per send, so what is framed, recorded and filtered is one answer.
import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { Channel, withSse, type Sse } from "../host/index.js";
import { until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { polluted } from "./helpers/pollution.js";
import { rawGet } from "./helpers/raw.js";
import { engine, text } from "./support/wasm.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const POLLUTION = { event: "pwned", id: "pwned", retry: 1, record: true };

describe("send options come from the object's own properties", () => {
  it("Engine: inherited options are not read; own ones are", async () => {
    const e = await engine();
    const c = e.open();
    await polluted(POLLUTION, () => {
      e.send(c, "x", {});
      expect(text(e.drain(c))).toBe("data: x\n\n");
      e.send(c, "y", { event: "own" });
      expect(text(e.drain(c))).toBe("event: own\ndata: y\n\n");
    });
    // Inherited from any prototype, not just Object.prototype: the rule is one, whatever the chain.
    e.send(c, "z", Object.create({ event: "inherited" }));
    expect(text(e.drain(c))).toBe("data: z\n\n");
  });

  it("withSse: a client of a server whose Object.prototype is polluted gets the events as sent", async () => {
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    running = await serve(withSse(async (_req: IncomingMessage, sse: Sse) => {
      try {
        await sse.send("plain", {});
        await sse.send({ n: 1 }, { id: "7" });
      } finally {
        done();
      }
    }, { keepAliveMs: 0 }));
    const client = await rawGet(running.port, "/");
    await polluted(POLLUTION, () => finished);
    await client.closed;
    expect(client.chunks().join("")).toBe('data: plain\n\nid: 7\ndata: {"n":1}\n\n');
  });

  it("Channel: a send with {} neither throws (an inherited record on a channel without history) nor frames inherited fields", async () => {
    const plain = new Channel();
    const recorded = new Channel({ history: { maxEvents: 4, maxBytes: 4096 } });
    running = await serve(withSse(async (_req: IncomingMessage, sse: Sse) => {
      plain.subscribe(sse);
      recorded.subscribe(sse);
      await sse.closed;
    }, { keepAliveMs: 0 }));
    const client = await rawGet(running.port, "/");
    await until(() => plain.size === 1 && recorded.size === 1, 2000, "a subscriber");
    await polluted(POLLUTION, () => {
      expect(plain.send("a", {})).toBe(1);
      expect(recorded.send("b", {})).toBe(1);
      expect(recorded.send("c", { record: false })).toBe(1);
    });
    await until(() => client.chunks().join("").includes("data: c"), 2000, "the events");
    expect(client.chunks().join("")).toMatch(/^data: a\n\nid: [\w-]+-1\ndata: b\n\ndata: c\n\n$/);
    expect(recorded.historySize).toBe(1);
    client.socket.destroy();
  });

  it("a getter option runs once per send, however many places read it (framing, filters)", async () => {
    const channel = new Channel(); // no history: the caller's own object went to framing and to each filter
    let reads = 0;
    const options = { get event() { reads++; return "counted"; } };
    running = await serve(withSse(async (_req: IncomingMessage, sse: Sse) => {
      channel.subscribe(sse, { filter: (_data, o) => o.event === "counted" });
      await sse.send("direct", options);
      await sse.closed;
    }, { keepAliveMs: 0 }));
    const client = await rawGet(running.port, "/");
    await until(() => channel.size === 1, 2000, "a subscriber");
    expect(reads).toBe(1);
    expect(channel.send("broadcast", options)).toBe(1);
    expect(reads).toBe(2);
    await until(() => client.chunks().join("").includes("data: broadcast"), 2000, "the broadcast");
    expect(client.chunks().join("")).toMatch(/^event: counted\ndata: direct\n\nevent: counted\ndata: broadcast\n\n$/);
    client.socket.destroy();
  });
});
