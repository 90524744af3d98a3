// The `cors` option on both hosts, header by header: which origins get
// Access-Control-Allow-Origin (and -Credentials), Vary: Origin whenever the answer depends on
// Origin, the headers on refusals too, preflights, and the option's checks at setup. A real
// cross-origin EventSource in Chromium is in cors-browser.test.ts.
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { sseResponse, withSse, type CorsOption } from "../host/index.js";
import { reader } from "./helpers/events.js";
import { listen, serve, type Running } from "./helpers/listen.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const APP = "http://app.example";
const EVIL = "http://evil.example";

type Host = "withSse" | "sseResponse";

/** A stream that sends "hi" and ends, behind `host` with `cors`; its URL. */
async function start(host: Host, cors: CorsOption | undefined, onError?: (error: unknown) => void): Promise<string> {
  const handler = async (sse: { send(data: unknown): Promise<void> }) => void (await sse.send("hi"));
  if (host === "withSse") {
    running = await serve(withSse((_req, sse) => handler(sse), { cors, ...(onError && { onError }) }));
  } else {
    const app = new Hono();
    app.all("/", (c) => sseResponse(c.req.raw, handler, { cors, ...(onError && { onError }) }));
    running = await listen(createAdaptorServer({ fetch: app.fetch }) as never);
  }
  return `${running.url}/`;
}

async function ask(url: string, headers: Record<string, string> = {}, method = "GET") {
  const response = await fetch(url, { method, headers: { Accept: "text/event-stream", ...headers } });
  const body = await response.text();
  const stream = reader();
  stream.feed(body);
  return { status: response.status, headers: response.headers, events: stream.events().map((e) => e.data), body };
}

const ACAO = "access-control-allow-origin";
const ACAC = "access-control-allow-credentials";

describe.each(["withSse", "sseResponse"] as const)("%s: cors", (host) => {
  it("sends no CORS header by default", async () => {
    const r = await ask(await start(host, undefined), { Origin: APP });
    expect(r.events).toEqual(["hi"]);
    expect([r.headers.get(ACAO), r.headers.get(ACAC), r.headers.get("vary")]).toEqual([null, null, null]);
  });

  it("a list echoes an allowed Origin with Vary: Origin; another origin, or none, gets only Vary", async () => {
    const url = await start(host, [APP, "https://Other.Example:443"]);
    const allowed = await ask(url, { Origin: APP });
    expect(allowed.events).toEqual(["hi"]);
    expect([allowed.headers.get(ACAO), allowed.headers.get(ACAC), allowed.headers.get("vary")]).toEqual([APP, null, "Origin"]);
    // Listed with a default port and capitals; browsers send it as https://other.example.
    expect((await ask(url, { Origin: "https://other.example" })).headers.get(ACAO)).toBe("https://other.example");
    for (const headers of [{ Origin: EVIL }, { Origin: "null" }, {}] as Array<Record<string, string>>) {
      const r = await ask(url, headers);
      expect(r.events).toEqual(["hi"]); // served: the browser, not the server, withholds it from the page
      expect([r.headers.get(ACAO), r.headers.get("vary")]).toEqual([null, "Origin"]);
    }
  });

  it("true sends Access-Control-Allow-Origin: * to everyone, without Vary or credentials", async () => {
    const url = await start(host, true);
    for (const headers of [{ Origin: EVIL }, {}] as Array<Record<string, string>>) {
      const r = await ask(url, headers);
      expect([r.headers.get(ACAO), r.headers.get(ACAC), r.headers.get("vary")]).toEqual(["*", null, null]);
    }
  });

  it("with credentials echoes the origin (never *) and Access-Control-Allow-Credentials: true; a function decides", async () => {
    const asked: string[] = [];
    const url = await start(host, { origin: (o) => (asked.push(o), o.endsWith(".app.example")), credentials: true });
    const r = await ask(url, { Origin: "https://eu.app.example" });
    expect([r.headers.get(ACAO), r.headers.get(ACAC), r.headers.get("vary")]).toEqual(["https://eu.app.example", "true", "Origin"]);
    const other = await ask(url, { Origin: EVIL });
    expect([other.headers.get(ACAO), other.headers.get(ACAC), other.headers.get("vary")]).toEqual([null, null, "Origin"]);
    expect(asked).toEqual(["https://eu.app.example", EVIL]);
  });

  it("puts the headers on refusals too, so a cross-origin page's EventSource sees them for what they are", async () => {
    const url = await start(host, APP);
    const refusals = [
      await ask(url, { Origin: APP, Accept: "text/html" }), // 406
      await ask(`${url}?lastEventId=%FF`, { Origin: APP }), // 400
      await ask(url, { Origin: APP }, "POST"), // 405
    ];
    expect(refusals.map((r) => [r.status, r.headers.get(ACAO), r.headers.get("vary")])).toEqual([
      [406, APP, "Origin"],
      [400, APP, "Origin"],
      [405, APP, "Origin"],
    ]);
  });

  it("answers a preflight from an allowed origin with 204: GET, HEAD and the headers asked for; any other OPTIONS gets 405", async () => {
    const url = await start(host, { origin: [APP], credentials: true });
    const preflight = { Origin: APP, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "last-event-id,authorization" };
    const r = await ask(url, preflight, "OPTIONS");
    expect(r.status).toBe(204);
    const headers: Array<[string, string]> = [];
    r.headers.forEach((value, name) => headers.push([name, value]));
    expect(Object.fromEntries(headers.filter(([name]) => name.startsWith("access-control-") || name === "vary"))).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, HEAD",
      "access-control-allow-headers": "last-event-id,authorization",
      vary: "Origin, Access-Control-Request-Headers",
    });
    for (const headers of [{ ...preflight, Origin: EVIL }, { ...preflight, "Access-Control-Request-Method": "POST" }, { Origin: APP }]) {
      const refused = await ask(url, headers, "OPTIONS");
      expect(refused.status).toBe(405);
      expect(refused.headers.get(ACAO)).toBe(headers.Origin === APP ? APP : null);
    }
    const any = await ask(await start(host, true), { Origin: EVIL, "Access-Control-Request-Method": "GET" }, "OPTIONS");
    expect([any.status, any.headers.get(ACAO), any.headers.get("access-control-allow-headers"), any.headers.get("vary")]).toEqual([204, "*", null, "Access-Control-Request-Headers"]);
  });

  it("takes an origin function that throws, or answers anything but a boolean, as allowing nothing, and reports it to onError", async () => {
    const errors: unknown[] = [];
    const answers: unknown[] = [new Error("the check failed"), Promise.resolve(true), 1];
    const url = await start(host, { origin: () => {
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer as boolean;
    } }, (error) => errors.push(error));
    for (let i = 0; i < 3; i++) {
      const r = await ask(url, { Origin: APP });
      expect(r.events).toEqual(["hi"]);
      expect([r.headers.get(ACAO), r.headers.get("vary")]).toEqual([null, "Origin"]);
    }
    expect(errors.map((e) => (e as Error).message)).toEqual([
      "the check failed",
      `${host} option cors: the origin function must return a boolean, got [object Promise]`,
      `${host} option cors: the origin function must return a boolean, got 1`,
    ]);
  });

  it("refuses an option that is not one with a TypeError at setup", () => {
    const setup = (cors: unknown) => () => {
      if (host === "withSse") withSse(() => {}, { cors: cors as CorsOption });
      else sseResponse(new Request("http://localhost/", { method: "POST" }), () => {}, { cors: cors as CorsOption }); // 405: no stream opens
    };
    const bad: Array<[unknown, string]> = [
      ["*", 'option cors: "*" is not an origin (scheme://host[:port]; cors: true allows any origin)'],
      ["https://app.example/events", '"https://app.example/events" is not an origin'],
      ["app.example", '"app.example" is not an origin'],
      ["null", '"null" is not an origin'],
      [[APP, 42], "42 is not an origin"],
      [42, "must be true, an origin, a list of origins, a function or { origin, credentials }, got 42"],
      [null, "got null"],
      [{ credentials: true }, "got undefined"],
      [{ origin: true, credentials: true }, "origin true with credentials would let every site read streams"],
      [{ origin: APP, credentials: "yes" }, "option cors.credentials must be a boolean, got yes"],
    ];
    for (const [cors, message] of bad) {
      expect(setup(cors), String(cors)).toThrow(TypeError);
      expect(setup(cors)).toThrow(message);
    }
    for (const good of [false, true, APP, [APP, "http://localhost:8080"], () => true, { origin: [APP], credentials: true }, { origin: true }]) {
      expect(setup(good)).not.toThrow();
    }
  });
});
