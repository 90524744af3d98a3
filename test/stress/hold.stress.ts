// 10,000 concurrent streams held for 30 s with keep-alives flowing, then one broadcast that
// every one of them receives. The clients live in their own process (fleet.ts), so server and
// clients each hold 10,000 sockets under their own fd limit.
import { expect, it } from "vitest";
import { Channel, withSse } from "../../host/index.js";
import { until } from "../helpers/events.js";
import { installWasmCensus, measure, show } from "./memory.js";
import { stage } from "./stage.js";

const STREAMS = 10_000;
const HOLD_MS = 30_000;
const KEEP_ALIVE_MS = 1000;
/** Keep-alives each stream must have had while idle: a third of what the interval allows. */
const MIN_KEEP_ALIVES = Math.floor(HOLD_MS / KEEP_ALIVE_MS / 3);

installWasmCensus();

it(`holds ${STREAMS} streams for ${HOLD_MS / 1000} s with keep-alives, then broadcasts to all`, async () => {
  const channel = new Channel();
  let started = 0;
  let finished = 0;
  const listener = withSse(
    async (_req, sse) => {
      started++;
      try {
        channel.subscribe(sse);
        await sse.closed;
      } finally {
        finished++;
      }
    },
    { keepAliveMs: KEEP_ALIVE_MS, maxConnections: STREAMS },
  );
  const { running, fleet } = await stage(listener);
  const before = await measure();

  const connecting = performance.now();
  const { opened } = await fleet.open({ port: running.port, count: STREAMS, mode: "fast", path: "/", concurrency: 200 });
  await until(() => channel.size === STREAMS, 30_000, `${STREAMS} subscribers`);
  const connectSeconds = (performance.now() - connecting) / 1000;
  expect(opened).toBe(STREAMS);
  expect(listener.openConnections).toBe(STREAMS);
  const open = await measure();

  for (let held = 0; held < HOLD_MS; held += 10_000) {
    await new Promise((r) => setTimeout(r, Math.min(10_000, HOLD_MS - held)));
    const s = await fleet.summary("fast");
    console.log(`hold: ${(held + 10_000) / 1000} s, ${STREAMS - s.closed} open, keep-alives per stream ${s.comments.min}..${s.comments.max}`);
  }
  const held = await fleet.summary("fast");
  expect(held.closed).toBe(0);
  expect(held.comments.min).toBeGreaterThanOrEqual(MIN_KEEP_ALIVES);
  expect(held.events.max).toBe(0);

  expect(channel.send("1:the end", { event: "final", id: "1" })).toBe(STREAMS);
  const got = await fleet.wait({ mode: "fast", events: 1, timeoutMs: 60_000 });
  const during = await measure();
  expect(got).toMatchObject({ clients: STREAMS, ok: STREAMS, closed: 0, malformed: 0, disorder: 0 });
  expect(got.events).toEqual({ total: STREAMS, min: 1, max: 1 });
  expect(got.lastId).toEqual({ min: 1, max: 1 });

  await fleet.destroy();
  await until(() => listener.openConnections === 0 && finished === started, 30_000, "every stream closed");
  await fleet.stop();
  const after = await measure();

  const perConnKiB = ((open.rssMiB - before.rssMiB) * 1024) / STREAMS;
  console.log(
    [
      `hold: ${STREAMS} streams opened in ${connectSeconds.toFixed(1)} s, held ${HOLD_MS / 1000} s, keepAliveMs ${KEEP_ALIVE_MS}`,
      `hold: keep-alives ${held.comments.total} (per stream ${held.comments.min}..${held.comments.max}), broadcast to ${got.events.total}, ${got.bytes} bytes received`,
      `hold: handlers started ${started}, finally ran ${finished}`,
      show("hold: before", before),
      show("hold: 10k open", open),
      show("hold: after the broadcast", during),
      show("hold: all closed", after),
      `hold: server RSS per open stream ${perConnKiB.toFixed(1)} KiB`,
    ].join("\n"),
  );
  expect(finished).toBe(STREAMS);
});
