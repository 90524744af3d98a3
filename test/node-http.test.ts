// What a request gets back: the stream's headers, clear refusals before any core slot is used,
// 503 at capacity, Last-Event-ID, and how a handler's return or throw ends the response.
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { withSse, type Sse } from "../host/index.js";
import { readAll, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const hello = async (_req: unknown, sse: Sse) => {
  await sse.send("hello");
};

describe("the response head", () => {
  it("streams with the event-stream headers and Connection: keep-alive on HTTP/1.1", async () => {
    running = await serve(withSse(hello));
    const { response, stream } = await readAll(running.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("connection")).toBe("keep-alive");
    expect(stream.events().map((e) => e.data)).toEqual(["hello"]);
  });

  it("does not promise keep-alive to a client that asked to close", async () => {
    running = await serve(withSse(hello));
    const head = await new Promise<Record<string, unknown>>((resolve, reject) => {
      request(`${running!.url}/`, { headers: { Connection: "close" } }, (res) => {
        res.resume();
        resolve(res.headers);
      }).on("error", reject).end();
    });
    expect(head["connection"]).toBe("close");
  });

  it.each([
    ["absent", undefined],
    ["*/*", "*/*"],
    ["text/*", "text/*"],
    ["a list with q-values", "application/json, text/event-stream;q=0.5"],
  ])("accepts a request whose Accept is %s", async (_name, accept) => {
    running = await serve(withSse(hello));
    const response = await fetch(running.url, { headers: accept === undefined ? {} : { Accept: accept } });
    // fetch sends Accept: */* when none is given; a raw request checks the truly absent case below.
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("data: hello\n\n");
  });

  it("accepts a request with no Accept header at all", async () => {
    running = await serve(withSse(hello));
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${running!.url}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.removeHeader("accept");
      req.on("error", reject).end();
    });
    expect(status).toBe(200);
  });
});

describe("refusals use no core slot", () => {
  it.each([
    ["application/json", "application/json"],
    ["text/event-stream;q=0", "text/event-stream;q=0, application/json"],
    ["text/* refused by q=0", "text/*;q=0"],
  ])("answers 406 to Accept: %s", async (_name, accept) => {
    const listener = withSse(hello);
    running = await serve(listener);
    const response = await fetch(running.url, { headers: { Accept: accept } });
    expect(response.status).toBe(406);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toContain("text/event-stream");
    expect(listener.openConnections).toBe(0);
  });

  it.each(["POST", "PUT", "DELETE", "OPTIONS"])("answers 405 with Allow: GET, HEAD to %s", async (method) => {
    let calls = 0;
    const listener = withSse(async () => void calls++);
    running = await serve(listener);
    const response = await fetch(running.url, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(calls).toBe(0);
  });

  it("answers HEAD with the stream's headers and no body, without running the handler", async () => {
    let calls = 0;
    const listener = withSse(async () => void calls++);
    running = await serve(listener);
    const response = await fetch(running.url, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await response.text()).toBe("");
    expect(calls).toBe(0);
  });

  it("answers 503 with Retry-After beyond maxConnections, then streams again once a slot frees", async () => {
    const release: Array<() => void> = [];
    const listener = withSse(
      async (_req, sse) => {
        await sse.send("in");
        await new Promise<void>((resolve) => release.push(resolve));
      },
      { maxConnections: 2, connectionsPerEngine: 1, retryAfterSeconds: 7 },
    );
    running = await serve(listener);
    const first = await fetch(running.url);
    const second = await fetch(running.url);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(listener.openConnections).toBe(2); // across two core instances
    const third = await fetch(running.url);
    expect(third.status).toBe(503);
    expect(third.headers.get("retry-after")).toBe("7");
    expect(await third.text()).toContain("retry later");
    release.shift()!();
    expect(await first.text()).toBe("data: in\n\n");
    await until(() => listener.openConnections === 1, 1000, "a slot to free");
    const fourth = await fetch(running.url);
    expect(fourth.status).toBe(200);
    for (const r of release.splice(0)) r();
    await Promise.all([second.text(), fourth.text()]);
  });

  it("refuses options that make no sense with a RangeError", () => {
    expect(() => withSse(hello, { maxEventBytes: 10 })).toThrow(RangeError);
    expect(() => withSse(hello, { keepAliveMs: -1 })).toThrow(RangeError);
    expect(() => withSse(hello, { maxConnections: 0 })).toThrow(RangeError);
    expect(() => withSse(hello, { maxEventBytes: 4096, maxBufferedBytes: 1024 })).toThrow(/maxBufferedBytes/);
  });
});

describe("Last-Event-ID", () => {
  it("reaches the handler as sse.lastEventId", async () => {
    const seen: Array<string | undefined> = [];
    running = await serve(withSse(async (_req, sse) => void seen.push(sse.lastEventId)));
    await (await fetch(running.url, { headers: { "Last-Event-ID": "41" } })).text();
    await (await fetch(running.url)).text();
    expect(seen).toEqual(["41", undefined]);
  });

  it("answers 400 to one the core cannot hold (over 256 bytes), using no slot", async () => {
    const listener = withSse(hello);
    running = await serve(listener);
    const response = await fetch(running.url, { headers: { "Last-Event-ID": "x".repeat(300) } });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("Last-Event-ID");
    expect(listener.openConnections).toBe(0);
  });
});

describe("the end of a stream", () => {
  it("ends the response when the handler returns, with every accepted event sent", async () => {
    const listener = withSse(async (_req, sse) => {
      // Not awaited: these are accepted synchronously and must still reach the client.
      void sse.send("a");
      void sse.send("b", "named");
    });
    running = await serve(listener);
    const { stream } = await readAll(running.url);
    expect(stream.events().map((e) => [e.event, e.data])).toEqual([["message", "a"], ["named", "b"]]);
    expect(listener.openConnections).toBe(0);
  });

  it("reports a handler's throw to onError once, never to the client, and ends the stream", async () => {
    const reported: unknown[] = [];
    const boom = new Error("handler bug: secret detail");
    const listener = withSse(
      async (_req, sse) => {
        await sse.send("before");
        throw boom;
      },
      { onError: (error) => reported.push(error) },
    );
    running = await serve(listener);
    const { response, stream } = await readAll(running.url);
    expect(response.status).toBe(200);
    expect(stream.items).toEqual([{ kind: "event", event: "message", data: "before", id: undefined }]);
    expect(reported).toEqual([boom]);
    expect(listener.openConnections).toBe(0);
  });

  it("logs a handler's throw once with console.error when no onError is given", async () => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      running = await serve(withSse(async () => Promise.reject(new Error("unhandled in handler"))));
      const { stream } = await readAll(running.url);
      expect(stream.items).toEqual([]);
    } finally {
      console.error = original;
    }
    expect(logged).toHaveLength(1);
    expect(String((logged[0]![1] as Error).message)).toBe("unhandled in handler");
  });

  it("survives an onError that throws itself, logging that instead", async () => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      running = await serve(
        withSse(async () => Promise.reject(new Error("first")), {
          onError: () => {
            throw new Error("onError broke");
          },
        }),
      );
      await readAll(running.url);
    } finally {
      console.error = original;
    }
    expect(logged.map((l) => (l[1] as Error).message)).toEqual(["onError broke"]);
  });
});

describe("the sse object", () => {
  it("frames comments, ids, retry and named events as given, in order", async () => {
    running = await serve(
      withSse(async (_req, sse) => {
        await sse.comment("two\nlines");
        await sse.send({ a: [1, "x"] }, { event: "update", id: "7", retry: 2500 });
        await sse.send("multi\nline text", "note");
        await sse.send(new TextEncoder().encode("bytes é"));
      }),
    );
    const response = await fetch(running.url);
    expect(await response.text()).toBe(
      ": two\n: lines\n" +
        'event: update\nid: 7\nretry: 2500\ndata: {"a":[1,"x"]}\n\n' +
        "event: note\ndata: multi\ndata: line text\n\n" +
        "data: bytes é\n\n",
    );
  });
});
