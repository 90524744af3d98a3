// The naive node:http server: one res.write of a freshly built string per event.
import type http from "node:http";
import { frameText } from "../event.js";
import { serve, SSE_HEADERS } from "./serve.js";

const subscribers = new Set<http.ServerResponse>();

serve({
  stream(_req, res, n) {
    res.writeHead(200, SSE_HEADERS);
    let i = 0;
    const pump = (): void => {
      while (i < n) {
        if (!res.write(frameText(i++))) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
  },
  subscribe(_req, res) {
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    subscribers.add(res);
    res.on("close", () => subscribers.delete(res));
  },
  broadcast(i) {
    const frame = frameText(i);
    for (const res of subscribers) res.write(frame);
  },
  subscribers: () => subscribers.size,
});
