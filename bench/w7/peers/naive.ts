// The naive node:http server of W1–W3, its frames with an `id:` line. It ignores Last-Event-ID:
// a reconnecting client gets live events only (a plain reconnect).
import type http from "node:http";
import { reading } from "../../event.js";
import { SSE_HEADERS } from "../../peers/serve.js";
import type { ResumablePeer } from "../peer.js";

const subscribers = new Set<http.ServerResponse>();

export const peer: ResumablePeer = {
  subscribe(_req, res) {
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    subscribers.add(res);
    res.on("close", () => subscribers.delete(res));
  },
  send(id) {
    const frame = `id: ${id}\ndata: ${JSON.stringify(reading(id))}\n\n`;
    for (const res of subscribers) res.write(frame);
  },
  subscribers: () => subscribers.size,
};
