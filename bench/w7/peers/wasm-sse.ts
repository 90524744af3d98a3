// wasm-sse as its README's "Replay" section shows it: a Channel with a history, withSse resuming
// from it; subscribe() sends a reconnecting client every kept event after its Last-Event-ID,
// then joins it to the live ones. Keep-alive is off, as for every peer.
import { Channel, withSse } from "../../../host/index.js";
import { reading } from "../../event.js";
import type { ResumablePeer } from "../peer.js";

/** Every W7 event (31) stays in the history, with room to spare. */
const channel = new Channel({ history: { maxEvents: 64, maxBytes: 64 * 1024 } });

/** Room for twice W7's clients, as for the W1–W3 peer: a 503 here would be a slot not yet freed, not the limit. */
const listener = withSse(
  async (_req, sse) => {
    channel.subscribe(sse);
    await sse.closed;
  },
  { keepAliveMs: 0, maxConnections: 20_000, resumeFrom: channel },
);

export const peer: ResumablePeer = {
  subscribe: (req, res) => listener(req, res),
  send: (id) => void channel.send(reading(id), { id: String(id) }),
  subscribers: () => channel.size,
};
