// The demo across processes: REDIS_URL=redis://127.0.0.1:6379 WORKERS=2 npm start. node:cluster
// forks the workers, which share the port (the primary hands each connection to the next); each
// serves the demo with the broadcast on one SharedChannel, so a chat line said to any worker
// reaches every tab, and a tab that reconnects to another worker resumes where it left off.
// The primary sends the clock, once for all of them (its Redis connection is unused otherwise).
import cluster from "node:cluster";
import type { Server } from "node:http";
import { SharedChannel } from "../host/redis/index.js";

const CLOCK_MS = 1000;

function connect(url: string): Promise<SharedChannel> {
  return SharedChannel.connect({ redis: { url, stream: "demo", maxLen: 1000 }, history: { maxEvents: 100, maxBytes: 64 * 1024 } });
}

/** `serve` makes a worker's server on the channel (demo.ts's createDemoServer: passed in, as demo.ts imports this file). */
export async function runCluster(url: string, workers: number, port: number, serve: (channel: SharedChannel) => Server): Promise<void> {
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`WORKERS must be a positive integer, got ${workers}`);
  const channel = await connect(url); // a wrong URL or password fails here, before any fork
  if (cluster.isPrimary) {
    for (let i = 0; i < workers; i++) cluster.fork();
    // A worker that dies is not replaced: its tabs reconnect to the others and resume there.
    cluster.on("exit", (worker, code, signal) => console.log(`worker ${worker.process.pid} exited (${signal ?? code})`));
    setInterval(() => void channel.send({ time: new Date().toISOString(), workers }, { event: "clock", record: false }).catch(() => {}), CLOCK_MS);
    console.log(`wasm-sse demo on http://127.0.0.1:${port}/ (${workers} workers, Redis ${new URL(url).host})`);
    return;
  }
  serve(channel).listen(port, "127.0.0.1", () => console.log(`worker ${process.pid} serving`));
}
