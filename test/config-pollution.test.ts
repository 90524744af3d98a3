// Options bags (withSse, fastifySse, sseResponse, Channel, subscribe, close) are read from the caller's own
// enumerable properties only. A key someone put on Object.prototype (prototype pollution, as a
// merge of parsed JSON leaves it) must not change a stream's behaviour: a `cors` granting every
// origin (or one with credentials) would let any site read a user's streams; a `filter` would
// make every broadcast throw; a `history`, `retry` or last event would change the wire.
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { Channel, withSse, type Sse } from "../host/index.js";
import { fastifySse } from "../host/node/fastify.js";
import { sseResponse } from "../host/web/index.js";
import { until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { polluted } from "./helpers/pollution.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const EVIL = "https://evil.example";

describe("options are read from the caller's own properties", () => {
  it("sseResponse: an inherited cors grants no origin, with or without credentials", async () => {
    for (const cors of [true, { origin: [EVIL], credentials: true }]) {
      const request = new Request("http://127.0.0.1/", { headers: { accept: "text/event-stream", origin: EVIL } });
      const response = await polluted({ cors }, () => sseResponse(request, async (sse) => void (await sse.send("private"))));
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-credentials")).toBeNull();
      expect(await response.text()).toBe("data: private\n\n");
    }
  });

  it("sseResponse: a cors object reads its own fields only (an inherited credentials is not read)", async () => {
    const request = new Request("http://127.0.0.1/", { headers: { accept: "text/event-stream", origin: EVIL } }); // undici reads inherited init keys too
    const response = await polluted({ credentials: true }, () => sseResponse(request, async () => {}, { cors: { origin: [EVIL] } }));
    expect(response.headers.get("access-control-allow-origin")).toBe(EVIL);
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    await response.text();
  });

  it("withSse: a listener made while Object.prototype has cors grants no origin", async () => {
    const listener = await polluted({ cors: true }, () => withSse(async (_req: IncomingMessage, sse: Sse) => void (await sse.send("private")), { keepAliveMs: 0 }));
    running = await serve(listener);
    const response = await fetch(running.url, { headers: { accept: "text/event-stream", origin: EVIL } });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(await response.text()).toBe("data: private\n\n");
  });

  it("Channel: inherited history, retry and filter are not read (a filter that is a string made every broadcast throw)", async () => {
    const channel = await polluted({ history: { maxEvents: 8, maxBytes: 4096 }, retry: 1 }, () => new Channel());
    running = await serve(withSse(async (_req: IncomingMessage, sse: Sse) => {
      await polluted({ filter: "x" }, () => channel.subscribe(sse, {}));
      await sse.closed;
    }, { keepAliveMs: 0 }));
    const client = await rawGet(running.port, "/");
    await until(() => channel.size === 1, 2000, "a subscriber");
    await polluted({ filter: "x" }, () => expect(channel.send("live")).toBe(1));
    await until(() => client.chunks().join("").includes("data: live"), 2000, "the event");
    expect(client.chunks().join("")).toBe("data: live\n\n"); // no retry: frame, no id: the channel keeps no history
    expect(channel.historySize).toBe(0);
    client.socket.destroy();
  });

  it("listener.close(): an inherited data or event sends no last event", async () => {
    const listener = withSse(async (_req: IncomingMessage, sse: Sse) => void (await sse.closed), { keepAliveMs: 0 });
    running = await serve(listener);
    const client = await rawGet(running.port, "/");
    await until(() => listener.openConnections === 1, 2000, "the stream");
    await polluted({ data: "pwned", event: "pwned" }, () => listener.close({ timeoutMs: 1000 }));
    await client.closed;
    expect(client.chunks().join("")).toBe("");
  });

  it("fastifySse: an inherited onError is not called with the handler's error", async () => {
    const inherited: unknown[] = [];
    const route = await polluted({ onError: (error: unknown) => void inherited.push(error) }, () =>
      fastifySse(async (_req, sse: Sse) => {
        await sse.send("x");
        throw new Error("handler failed");
      }, { keepAliveMs: 0 }),
    );
    const app = Fastify();
    app.get("/events", route);
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const { port } = app.server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/events`, { headers: { accept: "text/event-stream" } });
      expect(await response.text()).toBe("data: x\n\n");
      await new Promise((r) => setTimeout(r, 50));
      expect(inherited).toEqual([]); // before: [Error("handler failed")]
    } finally {
      await route.close({ timeoutMs: 100 });
      await app.close();
    }
  });
});
