// A reconnect storm with replay: 2,000 clients (the fleet's process) subscribed to a Channel
// with a history. The server cuts every connection at once (each socket destroyed, every other
// one with a reset); events are sent while nobody is connected and while the clients come
// back, each at a random moment within a second with its Last-Event-ID, as EventSource would;
// then live events. Every client must end with every event exactly once and in order, whenever
// it came back: the history's replay and the join to live events leave no gap and repeat
// nothing. No client is refused or left waiting, and no core slot outlives its connection.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { expect, it } from "vitest";
import { Channel, withSse, type Sse } from "../../host/index.js";
import { until } from "../helpers/events.js";
import { stage } from "./stage.js";

const CLIENTS = 2_000;
/** Events every client has before the cut, events sent while nobody is connected, while they come back, and once all are back. */
const BEFORE = 5;
const AWAY = 30;
const RETURNING = 20;
const LIVE = 5;
const TOTAL = BEFORE + AWAY + RETURNING + LIVE;
const RECONNECT_WITHIN_MS = 1000;
/** Data starting with the id, as the fleet's clients check it. */
const data = (id: number) => `${id}:${"x".repeat(200)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it(`${CLIENTS} clients cut at once come back within ${RECONNECT_WITHIN_MS / 1000} s and each ends with all ${TOTAL} events once, in order`, async () => {
  // The history holds every event of the test: none of them expires before its replay.
  const channel = new Channel({ history: { maxEvents: 64, maxBytes: 64 * 1024 } });
  const sockets = new Set<Socket>();
  const listener = withSse(
    async (req: IncomingMessage, sse: Sse) => {
      const socket = req.socket;
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      channel.subscribe(sse);
      await sse.closed;
    },
    { resumeFrom: channel, keepAliveMs: 0 },
  );
  const { running, fleet } = await stage(listener);
  let sent = 0;
  const send = (n: number) => {
    for (let k = 0; k < n; k++) channel.send(data(++sent), { id: String(sent) });
  };

  const { opened } = await fleet.open({ port: running.port, count: CLIENTS, mode: "fast", path: "/", concurrency: 200 });
  expect(opened).toBe(CLIENTS);
  await until(() => channel.size === CLIENTS, 30_000, `${CLIENTS} subscribers`);
  send(BEFORE);
  await fleet.wait({ mode: "fast", lastId: BEFORE, timeoutMs: 30_000 });

  // The cut: every connection at once, half with a reset, half with a FIN.
  let k = 0;
  for (const socket of sockets) {
    if (k++ % 2 === 0) socket.resetAndDestroy();
    else socket.destroy();
  }
  await until(() => channel.size === 0 && listener.openConnections === 0, 10_000, "every stream ended by the cut");
  send(AWAY);
  const cut = await fleet.wait({ mode: "fast", closed: true, timeoutMs: 10_000 });
  expect(cut.closed).toBe(CLIENTS);

  const returned = fleet.reconnect({ mode: "fast", withinMs: RECONNECT_WITHIN_MS, seed: 14 });
  // Events while they come back: some clients get each from the replay, the others live.
  for (let i = 0; i < RETURNING; i++) {
    await sleep(RECONNECT_WITHIN_MS / RETURNING);
    send(1);
  }
  const { reconnected } = await returned;
  expect(reconnected).toBe(CLIENTS);
  await until(() => channel.size === CLIENTS, 10_000, "every client subscribed again");
  expect(listener.openConnections).toBe(CLIENTS);
  send(LIVE);

  const got = await fleet.wait({ mode: "fast", lastId: TOTAL, timeoutMs: 30_000 });
  const stats = listener.stats();
  const channelStats = channel.stats();
  console.log(
    [
      `replay storm: ${CLIENTS} clients, ${TOTAL} events (${BEFORE} before the cut, ${AWAY} while away, ${RETURNING} while returning, ${LIVE} live)`,
      `replay storm: resumes ${channelStats.resumes}, events replayed ${channelStats.replayedEvents} (${(channelStats.replayedEvents / CLIENTS).toFixed(1)} per client), refused ${JSON.stringify(stats.refused)}`,
      `replay storm: received ${got.events.total} events, ${got.bytes} bytes; disorder ${got.disorder}`,
    ].join("\n"),
  );
  expect(got).toMatchObject({ clients: CLIENTS, ok: CLIENTS, closed: 0, malformed: 0, disorder: 0 });
  expect(got.events).toEqual({ total: CLIENTS * TOTAL, min: TOTAL, max: TOTAL });
  expect(got.lastId).toEqual({ min: TOTAL, max: TOTAL });
  expect(got.reconnects).toEqual({ min: 1, max: 1 });
  expect(stats.refused[503]).toBe(0);
  expect(channelStats.resumes).toBe(CLIENTS);
  expect(channelStats.unknownIds).toEqual({ reset: 0, all: 0 });

  await fleet.destroy();
  await until(() => listener.openConnections === 0 && channel.size === 0, 10_000, "every slot free once the fleet is gone");
});
