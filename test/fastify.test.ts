// withSse under Fastify 5, through fastifySse: a real Fastify server on 127.0.0.1, read by the
// `eventsource` npm client. Headers set by Fastify hooks reach the stream's response, HEAD and
// refusals come through as withSse answers them, a disconnect cancels the handler, and
// app.close() ends open streams through the preClose hook. Fastify's onResponse hooks still run.
import { EventSource } from "eventsource";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { counter } from "../examples/counter.js";
import { CancelledError, type Sse } from "../host/index.js";
import { fastifySse, type FastifySseRoute } from "../host/node/fastify.js";
import { COUNTER_EVENTS, seenUntilEnd, until } from "./helpers/events.js";

let app: FastifyInstance | undefined;
let completed: number[] = []; // status codes Fastify's onResponse hook saw
const clients: EventSource[] = [];
afterEach(async () => {
  for (const es of clients.splice(0)) es.close();
  const closing = app?.close();
  app = undefined;
  if (closing !== undefined) await bounded(closing, 5000, "app.close()");
});

/** `promise`, or a rejection after `ms`. */
function bounded<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A Fastify app whose onRequest hook sets a header with reply.header(); `mount` adds the routes (default: `route` at /events). */
async function start<R>(route: FastifySseRoute<R>, mount?: (a: FastifyInstance) => void): Promise<string> {
  app = Fastify({ logger: false });
  app.addHook("onRequest", async (_request, reply) => {
    reply.header("x-trace", "1");
  });
  completed = [];
  app.addHook("onResponse", async (_request, reply) => {
    completed.push(reply.statusCode);
  });
  app.addHook("preClose", async () => {
    await route.close(); // the recipe: without it, app.close() waits for every open stream to end
  });
  if (mount !== undefined) mount(app);
  else app.get("/events", route as FastifySseRoute<FastifyRequest>);
  app.get("/other", async () => ({ ok: true }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

/** An EventSource that also records its response's headers (through its `fetch` option). */
function eventSource(url: string): { es: EventSource; headers: () => Headers | undefined } {
  let headers: Headers | undefined;
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, init).then((response) => ((headers = response.headers), response)),
  });
  clients.push(es);
  return { es, headers: () => headers };
}

describe("Fastify 5 with fastifySse", () => {
  it("streams the seed's counter to the eventsource client, with the hook's header on the response", async () => {
    const route = fastifySse(counter(2));
    const url = await start(route);
    const { es, headers } = eventSource(`${url}/events`);
    expect(await seenUntilEnd(es)).toEqual(COUNTER_EVENTS);
    expect(headers()?.get("content-type")).toBe("text/event-stream");
    expect(headers()?.get("cache-control")).toBe("no-cache, no-transform");
    expect(headers()?.get("x-trace")).toBe("1");
    await until(() => route.openConnections === 0, 1000, "the core slot to be freed");
    // The stream's end is a finished response to Fastify: onResponse hooks (and its request log) run.
    await until(() => completed.length === 1, 1000, "Fastify's onResponse hook");
    expect(completed).toEqual([200]);
    // Fastify's other routes are untouched.
    expect(await (await fetch(`${url}/other`)).json()).toEqual({ ok: true });
  });

  it("cancels the handler when the client disconnects mid-stream: CancelledError, finally, slot freed", async () => {
    let caught: unknown;
    let finallyRan = false;
    const route = fastifySse(async (_request, sse) => {
      try {
        for (let i = 0; ; i++) {
          await sse.send({ counter: i });
          await sse.sleep(5);
        }
      } catch (e) {
        caught = e;
      } finally {
        finallyRan = true;
      }
    });
    const url = await start(route);
    const { es } = eventSource(`${url}/events`);
    let messages = 0;
    es.addEventListener("message", () => messages++);
    await until(() => messages >= 3, 5000, "three events");
    expect(route.openConnections).toBe(1);
    es.close();
    await until(() => finallyRan, 2000, "the handler's finally");
    expect(caught).toBeInstanceOf(CancelledError);
    await until(() => route.openConnections === 0, 1000, "the core slot to be freed");
  });

  it("answers HEAD (Fastify exposes it for the GET route) with 200, the stream's headers, no body, and no handler", async () => {
    let calls = 0;
    const route = fastifySse(async () => void calls++);
    const url = await start(route);
    const response = await bounded(fetch(`${url}/events`, { method: "HEAD", headers: { Accept: "text/event-stream" } }), 2000, "HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("x-trace")).toBe("1");
    expect(await response.text()).toBe("");
    expect(calls).toBe(0);
    expect(route.openConnections).toBe(0);
  });

  it("passes withSse's 406 through Fastify unchanged (with the hook's header), and runs no handler", async () => {
    let calls = 0;
    const route = fastifySse(async () => void calls++);
    const url = await start(route);
    const response = await bounded(fetch(`${url}/events`, { headers: { Accept: "application/json" } }), 2000, "the 406");
    expect(response.status).toBe(406);
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(response.headers.get("x-trace")).toBe("1");
    expect(await response.text()).toBe("this resource is a text/event-stream; the request accepts only: application/json\n");
    expect(calls).toBe(0);
  });

  it("gives the handler (and onError) Fastify's request: params, query and decorations", async () => {
    type Room = FastifyRequest<{ Params: { room: string }; Querystring: { since?: string } }> & { user?: string };
    const errors: Array<[unknown, unknown]> = [];
    const route = fastifySse<Room>(async (request, sse: Sse) => {
      await sse.send({ room: request.params.room, since: request.query.since, user: request.user, id: request.id });
      throw new Error("after the event");
    }, { onError: (error, request) => errors.push([error, request.params.room]) });
    const url = await start(route, (a) => {
      a.decorateRequest("user", undefined);
      a.addHook("preHandler", async (request) => {
        (request as Room).user = "ada";
      });
      a.get<{ Params: { room: string }; Querystring: { since?: string } }>("/rooms/:room", route);
    });
    const { es } = eventSource(`${url}/rooms/lobby?since=7`);
    const data: string[] = [];
    es.addEventListener("message", (e) => {
      data.push(e.data);
      es.close();
    });
    await until(() => data.length === 1 && errors.length === 1, 5000, "the event and the handler's error");
    expect(JSON.parse(data[0]!)).toMatchObject({ room: "lobby", since: "7", user: "ada" });
    expect(JSON.parse(data[0]!).id).toEqual(expect.any(String));
    expect((errors[0]![0] as Error).message).toBe("after the event");
    expect(errors[0]![1]).toBe("lobby");
  });

  it("ends open streams on app.close() through the preClose hook: the handler sees CancelledError", async () => {
    let caught: unknown;
    const route = fastifySse(async (_request, sse) => {
      try {
        await sse.send("open");
        await sse.sleep(60_000);
      } catch (e) {
        caught = e;
      }
    });
    const url = await start(route);
    const { es } = eventSource(`${url}/events`);
    let opened = false;
    es.addEventListener("message", () => (opened = true));
    await until(() => opened, 5000, "the first event");
    const closing = app!.close();
    app = undefined;
    await bounded(closing, 5000, "app.close() with a stream open");
    expect(caught).toBeInstanceOf(CancelledError);
    expect(route.openConnections).toBe(0);
  });
});
