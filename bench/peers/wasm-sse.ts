// wasm-sse through its public API: withSse for a stream, a Channel to broadcast (framed once
// in the core, the same bytes to every subscriber). Keep-alive is off, as for every peer.
import { Channel, withSse } from "../../host/index.js";
import { eventName, reading } from "../event.js";
import { serve } from "./serve.js";

/** Room for W3's idle connections plus the warm-up ones. */
const OPTIONS = { keepAliveMs: 0, maxConnections: 20_000 };
const channel = new Channel();

const stream = withSse(async (req, sse) => {
  const n = Number(new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("n"));
  for (let i = 0; i < n; i++) await sse.send(reading(i), eventName(i));
}, OPTIONS);

const subscribe = withSse(async (_req, sse) => {
  channel.subscribe(sse);
  await sse.closed;
}, OPTIONS);

serve({
  stream: (req, res) => stream(req, res),
  subscribe: (req, res) => subscribe(req, res),
  broadcast(i) {
    channel.send(reading(i), eventName(i));
  },
  subscribers: () => channel.size,
});
