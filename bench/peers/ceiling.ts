// The ceiling: every frame is built before the clock starts, back to back in one Buffer,
// and sent in large writes (up to 64 KiB per write on one stream; a whole burst per
// subscriber on a broadcast). What is left is the socket path's own cost.
import type http from "node:http";
import { frameText } from "../event.js";
import { maxEvents, serve, SSE_HEADERS } from "./serve.js";

const WRITE_BYTES = 64 * 1024;

const n = maxEvents();
const texts = Array.from({ length: n }, (_, i) => frameText(i));
const frames = Buffer.from(texts.join(""));
/** offsets[i] is where frame i starts; offsets[n] the end. */
const offsets = new Float64Array(n + 1);
for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + Buffer.byteLength(texts[i]!);

const subscribers = new Set<http.ServerResponse>();
let burstStart = -1;
let burstEnd = 0;

function flushBurst(): void {
  const bytes = frames.subarray(offsets[burstStart], offsets[burstEnd]);
  burstStart = -1;
  for (const res of subscribers) res.write(bytes);
}

serve({
  stream(_req, res, count) {
    res.writeHead(200, SSE_HEADERS);
    let i = 0;
    const pump = (): void => {
      while (i < count) {
        let j = i + 1;
        while (j < count && offsets[j + 1]! - offsets[i]! <= WRITE_BYTES) j++;
        const ok = res.write(frames.subarray(offsets[i], offsets[j]));
        i = j;
        if (!ok) {
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
    // Frames broadcast in one turn of the event loop go out as one write per subscriber.
    if (burstStart < 0) {
      burstStart = i;
      queueMicrotask(flushBurst);
    }
    burstEnd = i + 1;
  },
  subscribers: () => subscribers.size,
});
