// Slow and frozen readers among fast ones, on one broadcast Channel: every frozen client (it
// stops reading after the response head) is cut once maxBufferedBytes queue up for it, every
// fast one receives every event, a slow one receives either everything or a gap-free prefix,
// and the server's memory stays under a bound set by maxBufferedBytes, not by what was sent.
import type { IncomingMessage } from "node:http";
import { expect, it } from "vitest";
import { Channel, withSse, type Sse } from "../../host/index.js";
import { until } from "../helpers/events.js";
import { installWasmCensus, measure, show } from "./memory.js";
import { stage } from "./stage.js";
import type { ReadMode } from "./sse-client.js";

const COUNTS: Record<ReadMode, number> = { fast: 40, slow: 20, frozen: 40 };
const CLIENTS = COUNTS.fast + COUNTS.slow + COUNTS.frozen;
const EVENTS = 3000;
const DATA_BYTES = 4096;
const BATCH = 16;
/** Events sent ahead of the slowest fast client: 32 × 4 KiB stays well under maxBufferedBytes. */
const WINDOW = 32;
const MAX_BUFFERED = 256 * 1024;
const MAX_EVENT = 16 * 1024;
/** Server RSS growth allowed: every client's full buffer and one frame, plus 64 MiB for the runtime. */
const RSS_BOUND_MIB = (CLIENTS * (MAX_BUFFERED + MAX_EVENT)) / 2 ** 20 + 64;

installWasmCensus();

const MODES: ReadMode[] = ["fast", "slow", "frozen"];
const event = (n: number) => `${n}:`.padEnd(DATA_BYTES, "y");

it(`cuts frozen readers at maxBufferedBytes while ${COUNTS.fast} fast ones get all ${EVENTS} events`, async () => {
  const channel = new Channel();
  const cut: Record<ReadMode, number> = { fast: 0, slow: 0, frozen: 0 };
  const listener = withSse(
    async (req: IncomingMessage, sse: Sse) => {
      channel.subscribe(sse);
      await sse.closed;
      if (sse.signal.aborted) cut[req.url!.slice(1) as ReadMode]++;
    },
    { maxBufferedBytes: MAX_BUFFERED, maxEventBytes: MAX_EVENT },
  );
  const { running, fleet } = await stage(listener);
  const before = await measure();
  for (const mode of MODES) {
    const { opened } = await fleet.open({ port: running.port, count: COUNTS[mode], mode, path: `/${mode}`, concurrency: 50 });
    expect(opened).toBe(COUNTS[mode]);
  }
  await until(() => channel.size === CLIENTS, 10_000, "every client subscribed");

  let peakRss = 0;
  let offered = 0;
  for (let n = 1; n <= EVENTS; n++) {
    offered += channel.send(event(n), { id: String(n) });
    if (n % BATCH === 0 || n === EVENTS) {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      await fleet.wait({ mode: "fast", lastId: n - WINDOW, timeoutMs: 30_000 });
    }
  }
  const fast = await fleet.wait({ mode: "fast", lastId: EVENTS, timeoutMs: 30_000 });
  const slow = await fleet.wait({ mode: "slow", lastId: EVENTS, timeoutMs: 60_000 });
  await fleet.readAll("frozen");
  const frozen = await fleet.wait({ mode: "frozen", closed: true, timeoutMs: 30_000 });
  const during = await measure();
  const peakMiB = peakRss / 2 ** 20;

  console.log(
    [
      `readers: ${EVENTS} events of ${DATA_BYTES} B broadcast, ${offered} deliveries, maxBufferedBytes ${MAX_BUFFERED}`,
      ...MODES.map((m) => {
        const s = { fast, slow, frozen }[m];
        return `readers: ${m} ${s.clients}: cut ${cut[m]}, events ${s.events.min}..${s.events.max}, last id ${s.lastId.min}..${s.lastId.max}, ${s.bytes} bytes, disorder ${s.disorder}`;
      }),
      show("readers: before", before),
      show("readers: after", during),
      `readers: peak RSS ${peakMiB.toFixed(1)} MiB, +${(peakMiB - before.rssMiB).toFixed(1)} MiB (bound ${RSS_BOUND_MIB.toFixed(1)} MiB; ` +
        `unbounded queues would hold ${((COUNTS.frozen * EVENTS * DATA_BYTES) / 2 ** 20).toFixed(0)} MiB for the frozen clients)`,
    ].join("\n"),
  );

  expect(cut.fast).toBe(0);
  expect(fast).toMatchObject({ clients: COUNTS.fast, closed: 0, disorder: 0, malformed: 0 });
  expect(fast.events).toEqual({ total: COUNTS.fast * EVENTS, min: EVENTS, max: EVENTS });

  expect(cut.frozen).toBe(COUNTS.frozen);
  expect(frozen).toMatchObject({ clients: COUNTS.frozen, closed: COUNTS.frozen, ended: 0, disorder: 0, malformed: 0 });
  expect(frozen.lastId.max).toBeLessThan(EVENTS);

  // A slow client got everything, or was cut and got a gap-free prefix before its close.
  expect(slow).toMatchObject({ clients: COUNTS.slow, closed: cut.slow, disorder: 0, malformed: 0 });
  expect(channel.size).toBe(COUNTS.fast + COUNTS.slow - cut.slow);

  expect(peakMiB - before.rssMiB).toBeLessThanOrEqual(RSS_BOUND_MIB);

  await fleet.destroy();
  await until(() => listener.openConnections === 0 && channel.size === 0, 10_000, "every stream closed");
});
