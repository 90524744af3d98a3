// The same listener, unchanged, under Express, Connect, node:https and node:http2 (cleartext and TLS),
// read by real clients: the same events and the right headers for each protocol.
import compression from "compression";
import connectApp from "connect";
import express from "express";
import { createServer as createHttpServer, get as httpGet } from "node:http";
import { request as httpsRequest, createServer as createHttpsServer } from "node:https";
import { connect, createSecureServer, createServer as createH2Server, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { createGunzip } from "node:zlib";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { counter } from "../examples/counter.js";
import { CancelledError, withSse } from "../host/index.js";
import { reader, readAll, until } from "./helpers/events.js";
import { listen, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";
import { selfSigned } from "./helpers/tls.js";

let running: Running | undefined;
let session: ClientHttp2Session | undefined;
afterEach(async () => {
  session?.destroy();
  session = undefined;
  await running?.close();
  running = undefined;
});

const seed = [
  ...Array.from({ length: 10 }, (_, i) => ["message", JSON.stringify({ counter: i })]),
  ["comment", "end"],
];

let tls: { key: Buffer; cert: Buffer };
beforeAll(() => {
  tls = selfSigned();
});

/** GETs `path` over an HTTP/2 session and reads the stream to its end. */
function h2Get(client: ClientHttp2Session, path: string) {
  return new Promise<{ headers: IncomingHttpHeaders; stream: ReturnType<typeof reader> }>((resolve, reject) => {
    const req = client.request({ ":path": path, accept: "text/event-stream" });
    const stream = reader();
    let headers: IncomingHttpHeaders = {};
    req.on("response", (h) => (headers = h));
    req.on("data", (chunk: Buffer) => stream.feed(chunk));
    req.on("end", () => resolve({ headers, stream }));
    req.on("error", reject);
    req.end();
  });
}

describe("Express", () => {
  it("serves the seed's events from a route, with the event-stream headers", async () => {
    const app = express();
    const listener = withSse(counter(2));
    app.get("/events", listener);
    app.get("/other", (_req, res) => void res.send("not a stream"));
    running = await listen(app.listen(0, "127.0.0.1"));
    const { response, stream } = await readAll(`${running.url}/events`);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("connection")).toBe("keep-alive");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual(seed);
    expect(await (await fetch(`${running.url}/other`)).text()).toBe("not a stream");
    expect(listener.openConnections).toBe(0);
  });

  it("does not start a stream for a client that left while earlier middleware ran", async () => {
    const app = express();
    let gone!: () => void;
    const clientGone = new Promise<void>((resolve) => (gone = resolve));
    let calls = 0;
    const listener = withSse(async () => void calls++);
    app.get("/events", (req, _res, next) => {
      req.socket.once("close", () => gone());
      void clientGone.then(() => next()); // an async check (auth, say) that outlives the client
    }, listener);
    running = await listen(app.listen(0, "127.0.0.1"));
    const client = await rawGet(running.port, "/events");
    await new Promise((r) => setTimeout(r, 20));
    client.socket.destroy();
    await clientGone;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(0);
    expect(listener.openConnections).toBe(0);
  });

  it("refuses a POST to the route with 405", async () => {
    const app = express();
    app.all("/events", withSse(counter(2)));
    running = await listen(app.listen(0, "127.0.0.1"));
    const response = await fetch(`${running.url}/events`, { method: "POST" });
    expect(response.status).toBe(405);
  });
});

describe("Express with compression()", () => {
  it("gets each event through gzip while the handler runs when no-transform was stripped: every write is flushed", async () => {
    const app = express();
    app.use(compression());
    // What a proxy or middleware that drops Cache-Control does: compression no longer sees no-transform, and gzips.
    app.use((_req, res, next) => {
      const writeHead = res.writeHead as (status: number, headers?: Record<string, string>) => unknown;
      res.writeHead = function (this: unknown, status: number, headers?: Record<string, string>) {
        if (headers !== undefined) delete headers["Cache-Control"];
        return writeHead.call(this, status, headers);
      } as typeof res.writeHead;
      next();
    });
    const stream = reader();
    const failures: unknown[] = [];
    app.get("/events", withSse(async (_req, sse) => {
      for (let i = 0; i < 3; i++) {
        await sse.send({ i });
        // The client must have decoded event i before the handler goes on (and long before it ends).
        await until(() => stream.events().length > i, 2000, `event ${i} through gzip`);
      }
    }, { onError: (error) => failures.push(error) }));
    running = await listen(app.listen(0, "127.0.0.1"));
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      httpGet(`${running!.url}/events`, { headers: { Accept: "text/event-stream", "Accept-Encoding": "gzip" } }, (res) => {
        res.pipe(createGunzip()).on("data", (d: Buffer) => stream.feed(d)).on("end", () => resolve(res.headers)).on("error", reject);
      }).on("error", reject);
    });
    expect(failures).toEqual([]);
    expect(headers["content-encoding"]).toBe("gzip");
    expect(headers["cache-control"]).toBeUndefined();
    expect(stream.events().map((e) => e.data)).toEqual(['{"i":0}', '{"i":1}', '{"i":2}']);
  });
});

describe("Connect", () => {
  it("serves the seed's events as mounted middleware, after other middleware", async () => {
    const app = connectApp();
    const seen: string[] = [];
    app.use((req, _res, next) => {
      seen.push(req.url ?? "");
      next();
    });
    const listener = withSse(counter(2));
    app.use("/events", listener);
    running = await listen(createHttpServer(app).listen(0, "127.0.0.1"));
    const { response, stream } = await readAll(`${running.url}/events`);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual(seed);
    expect(seen).toEqual(["/events"]);
    expect(listener.openConnections).toBe(0);
  });
});

describe("node:https", () => {
  it("serves the seed's events over TLS", async () => {
    running = await listen(createHttpsServer(tls, withSse(counter(2))) as never);
    const stream = reader();
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      httpsRequest(`https://127.0.0.1:${running!.port}/`, { ca: tls.cert, headers: { Accept: "text/event-stream" } }, (res) => {
        res.on("data", (chunk: Buffer) => stream.feed(chunk));
        res.on("end", () => resolve(res.headers));
      }).on("error", reject).end();
    });
    expect(headers["content-type"]).toBe("text/event-stream");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual(seed);
  });
});

describe("node:http2 (compatibility API)", () => {
  it("serves the seed's events over cleartext HTTP/2, with no Connection header", async () => {
    const listener = withSse(counter(2));
    running = await listen(createH2Server(listener));
    session = connect(running.url);
    const { headers, stream } = await h2Get(session, "/");
    expect(headers[":status"]).toBe(200);
    expect(headers["content-type"]).toBe("text/event-stream");
    expect(headers["cache-control"]).toBe("no-cache, no-transform");
    expect(headers["x-accel-buffering"]).toBe("no");
    expect(headers).not.toHaveProperty("connection");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual(seed);
    expect(listener.openConnections).toBe(0);
  });

  it("serves over TLS with ALPN h2, and HTTP/1.1 clients on the same server", async () => {
    running = await listen(createSecureServer({ ...tls, allowHTTP1: true }, withSse(counter(1))));
    session = connect(`https://127.0.0.1:${running.port}`, { ca: tls.cert });
    const { headers, stream } = await h2Get(session, "/");
    expect(headers).not.toHaveProperty("connection");
    expect(stream.events().map((e) => [e.event, e.data])).toEqual(seed);
    const h1 = reader();
    const h1Headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      httpsRequest(`https://127.0.0.1:${running!.port}/`, { ca: tls.cert }, (res) => {
        res.on("data", (chunk: Buffer) => h1.feed(chunk));
        res.on("end", () => resolve(res.headers));
      }).on("error", reject).end();
    });
    expect(h1Headers["connection"]).toBe("keep-alive");
    expect(h1.events()).toHaveLength(11);
  });

  it("cancels the handler when the client resets its stream, and frees the slot", async () => {
    let caught: unknown;
    const listener = withSse(async (_req, sse) => {
      try {
        await sse.send("open");
        await sse.sleep(60_000);
      } catch (e) {
        caught = e;
      }
    });
    running = await listen(createH2Server(listener));
    session = connect(running.url);
    const req = session.request({ ":path": "/" });
    await new Promise((resolve) => req.once("data", resolve));
    req.close();
    await until(() => caught !== undefined, 2000, "the handler's catch");
    expect(caught).toBeInstanceOf(CancelledError);
    expect(listener.openConnections).toBe(0);
  });

  it("holds sends while the client's stream is paused (flow control), then delivers every event", async () => {
    let sends = 0;
    const big = "h".repeat(32 * 1024);
    const listener = withSse(async (_req, sse) => {
      for (let i = 0; i < 100; i++) {
        await sse.send(big);
        sends++;
      }
    });
    running = await listen(createH2Server(listener));
    session = connect(running.url);
    const req = session.request({ ":path": "/" });
    const stream = reader();
    req.on("data", (chunk: Buffer) => stream.feed(chunk));
    req.pause();
    await until(() => sends > 0, 2000, "the first sends");
    await new Promise((r) => setTimeout(r, 200));
    expect(sends).toBeLessThan(10); // the peer's 64 KiB window, Node's buffer and the core's space
    req.resume();
    await new Promise((resolve) => req.on("end", resolve));
    expect(sends).toBe(100);
    expect(stream.events()).toHaveLength(100);
    expect(listener.openConnections).toBe(0);
  });

  it("answers 406 over HTTP/2 too", async () => {
    running = await listen(createH2Server(withSse(counter(1))));
    session = connect(running.url);
    const status = await new Promise((resolve) => {
      const req = session!.request({ ":path": "/", accept: "application/json" });
      req.on("response", (h) => resolve(h[":status"]));
      req.resume();
    });
    expect(status).toBe(406);
  });
});
