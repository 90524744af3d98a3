// What each W7 peer gives the server harness (server.ts): its subscribe route, how it sends
// event `id` to every subscriber, and how many subscribers it has. Event `id` carries the
// bench's reading(id) as JSON and the id `String(id)`, so an EventSource client's reconnect
// sends `Last-Event-ID: <the last id it got>`.
import type http from "node:http";

export interface ResumablePeer {
  subscribe(req: http.IncomingMessage, res: http.ServerResponse): void;
  send(id: number): void;
  subscribers(): number;
}
