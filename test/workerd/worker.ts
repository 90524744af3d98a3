// A Cloudflare Worker (run by test/workerd.test.ts under `workerd serve`): a Hono app whose
// routes are sseResponse streams from the web entry for workerd, the core imported as a
// .wasm module. One isolate serves every request, so the module scope below is shared by all
// of them: /state reports what handlers saw.
import { Hono } from "hono";
import { CancelledError, Channel, sseResponse } from "../../host/web/workerd.js";
import { counter, fields } from "./handlers.js";

interface Seen {
  /** Tags of handlers whose pending sleep or send rejected with CancelledError. */
  cancelled: string[];
  /** Tags of handlers whose `finally` ran. */
  finished: string[];
  /** Tags whose sse.signal was aborted with a CancelledError by the time `finally` ran. */
  aborted: string[];
  /** What handlers threw or onError got, as text. */
  errors: string[];
}

const seen: Seen = { cancelled: [], finished: [], aborted: [], errors: [] };
const onError = (error: unknown) => void seen.errors.push(String((error as Error)?.stack ?? error));

// In the module's global scope, as the README makes its channels (workerd refuses random
// values there: the channel's id prefix is made at its first send).
const news = new Channel({ history: { maxEvents: 100, maxBytes: 64 * 1024 }, retry: 1000 });

const app = new Hono();

app.get("/counter", (c) => sseResponse(c.req.raw, (sse) => counter(sse, Number(c.req.query("sleep") ?? 5)), { onError }));
app.get("/fields", (c) => sseResponse(c.req.raw, fields, { onError }));

// Sends a counter every `every` ms until the client goes.
app.get("/hold/:tag", (c) => {
  const tag = c.req.param("tag");
  const every = Number(c.req.query("every") ?? 20);
  return sseResponse(c.req.raw, async (sse) => {
    try {
      for (let i = 0; ; i++) {
        await sse.send({ tag, i });
        await sse.sleep(every);
      }
    } catch (e) {
      if (e instanceof CancelledError) seen.cancelled.push(tag);
      else throw e;
    } finally {
      if (sse.signal.reason instanceof CancelledError) seen.aborted.push(tag);
      seen.finished.push(tag);
    }
  }, { onError });
});

// `count` events `every` ms apart, then `tail` ms of quiet, then the end; keep-alives every
// `keepAlive` ms (each value its own engine pool, so a test can start from a fresh one).
app.get("/ticks", (c) => {
  const q = (name: string, fallback: number) => Number(c.req.query(name) ?? fallback);
  return sseResponse(c.req.raw, async (sse) => {
    for (let i = 0; i < q("count", 1); i++) {
      if (i > 0) await sse.sleep(q("every", 0));
      await sse.send({ tick: i });
    }
    await sse.sleep(q("tail", 0));
  }, { keepAliveMs: q("keepAlive", 15_000), onError });
});

// A subscriber's handler only waits: workerd notices its client gone at the next write, so
// at its next keep-alive at the latest.
app.get("/news", (c) =>
  sseResponse(c.req.raw, async (sse) => {
    news.subscribe(sse);
    await sse.closed;
  }, { keepAliveMs: Number(c.req.query("keepAlive") ?? 15_000), onError }),
);
app.post("/news", async (c) => {
  const body = await c.req.json<{ data: unknown; event?: string }>();
  news.send(body.data, body.event === undefined ? {} : { event: body.event });
  return c.json({ subscribers: news.size, lastId: news.lastId });
});

app.get("/news/size", (c) => c.json({ subscribers: news.size }));

app.get("/state", (c) => c.json(seen));

export default app;
