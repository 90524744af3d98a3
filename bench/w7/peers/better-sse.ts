// better-sse as for W1–W3: a Session per client, a Channel to broadcast, each event with its id.
// It keeps no history: a reconnecting client's Last-Event-ID becomes session.lastId and
// nothing more, so the client gets live events only (a plain reconnect).
import { createChannel, Session } from "better-sse";
import { reading } from "../../event.js";
import type { ResumablePeer } from "../peer.js";

const OPTIONS = { retry: null, keepAlive: null };
const channel = createChannel();

export const peer: ResumablePeer = {
  subscribe(req, res) {
    const session = new Session(req, res, OPTIONS);
    session.once("connected", () => channel.register(session));
  },
  send: (id) => void channel.broadcast(reading(id), "message", { eventId: String(id) }),
  subscribers: () => channel.sessionCount,
};
