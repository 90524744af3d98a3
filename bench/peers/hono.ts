// Hono's streamSSE helper on @hono/node-server, written as Hono's documentation shows it:
// await each writeSSE (that is its backpressure), JSON.stringify the data.
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import { eventName, reading } from "../event.js";
import { serve } from "./serve.js";

const subscribers = new Set<SSEStreamingApi>();

function message(i: number): { data: string; event?: string } {
  const data = JSON.stringify(reading(i));
  const event = eventName(i);
  return event === undefined ? { data } : { data, event };
}

const app = new Hono();
app.get("/stream", (c) => {
  const n = Number(c.req.query("n"));
  return streamSSE(c, async (stream) => {
    for (let i = 0; i < n; i++) await stream.writeSSE(message(i));
  });
});
app.get("/subscribe", (c) =>
  streamSSE(c, async (stream) => {
    subscribers.add(stream);
    await new Promise<void>((resolve) => stream.onAbort(resolve));
    subscribers.delete(stream);
  }),
);
const listener = getRequestListener(app.fetch);

serve({
  stream: (req, res) => void listener(req, res),
  subscribe: (req, res) => void listener(req, res),
  broadcast(i) {
    const msg = message(i);
    for (const stream of subscribers) void stream.writeSSE(msg);
  },
  subscribers: () => subscribers.size,
});
