// A worker for test/storm-paths.test.ts: streams that send until their client goes, and the pool's stats.
import { sseResponse, sseStats } from "../../host/web/workerd.js";

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/stats") return Response.json(sseStats());
    return sseResponse(request, async (sse) => {
      // Sends every 50 ms: workerd notices a client gone only when it writes.
      for (;;) {
        await sse.send("tick");
        await sse.sleep(50);
      }
    }, { keepAliveMs: 0, stallTimeoutMs: 0 });
  },
};
