// The seed's two examples (Microdot's SSE extension) on node:http:
//   GET /events   ten counter events a second apart, then a named "comment" event, then the end
//   GET /forever  counts until the client goes, then logs "Client disconnected!"
// Run: npx tsx examples/counter.ts   (PORT=… to move it off 8080), then
//      curl -N http://127.0.0.1:8080/events
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { CancelledError, withSse, type Sse } from "../host/index.js";

/** The counter: `intervalMs` between events (the seed sleeps one second). */
export function counter(intervalMs = 1000) {
  return async (_req: unknown, sse: Sse) => {
    for (let i = 0; i < 10; i++) {
      await sse.sleep(intervalMs);
      await sse.send({ counter: i }); // unnamed event
    }
    await sse.send("end", { event: "comment" }); // named event
  };
}

/** Counts until cancelled; the catch runs when the client disconnects. */
export function forever(intervalMs = 1000, log: (line: string) => void = console.log) {
  return async (_req: unknown, sse: Sse) => {
    try {
      let i = 0;
      while (true) {
        await sse.sleep(intervalMs);
        await sse.send({ counter: i });
        i++;
      }
    } catch (e) {
      if (e instanceof CancelledError) log("Client disconnected!");
      else throw e;
    }
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const events = withSse(counter());
  const endless = withSse(forever());
  const port = Number(process.env.PORT ?? 8080);
  createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/events") return events(req, res);
    if (path === "/forever") return endless(req, res);
    res.writeHead(404, { "Content-Type": "text/plain" }).end("try /events or /forever\n");
  }).listen(port, "127.0.0.1", () => console.log(`counter on http://127.0.0.1:${port}/events and /forever`));
}
