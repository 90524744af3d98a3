// better-sse as its documentation shows it: a Session per client, session.push for one
// client, a Channel to broadcast. No retry preamble and no keep-alive timer, as for every peer.
// better-sse always writes `event:` and an `id:` field (a random UUID when none is given):
// that is its wire format, so it is measured with it.
import { createChannel, Session } from "better-sse";
import { eventName, reading } from "../event.js";
import { serve } from "./serve.js";

const OPTIONS = { retry: null, keepAlive: null };
const channel = createChannel();

serve({
  stream(req, res, n) {
    const session = new Session(req, res, OPTIONS);
    session.once("connected", () => {
      let i = 0;
      // better-sse has no backpressure signal of its own: watch the response it writes to.
      const pump = (): void => {
        while (i < n) {
          session.push(reading(i), eventName(i));
          i++;
          if (res.writableNeedDrain) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
  },
  subscribe(req, res) {
    const session = new Session(req, res, OPTIONS);
    session.once("connected", () => channel.register(session));
  },
  broadcast(i) {
    channel.broadcast(reading(i), eventName(i));
  },
  subscribers: () => channel.sessionCount,
});
