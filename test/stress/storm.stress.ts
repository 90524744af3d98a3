// A disconnect storm: 20,000 connect/disconnect cycles from a client process, leaving in every
// way (see storm-client.ts), many while the handler sends, some mid-event, some while it
// sleeps. Afterwards no core slot is in use, every handler's finally ran, and the heap and
// the wasm memory are back to the baseline taken after a warm-up that held as many streams
// at once as the storm can, each once the pool released the engines left empty (but a spare).
import type { IncomingMessage } from "node:http";
import { expect, it } from "vitest";
import { CancelledError, withSse, type Sse } from "../../host/index.js";
import { until } from "../helpers/events.js";
import { installWasmCensus, measure, show } from "./memory.js";
import { stage } from "./stage.js";
import { HELLO, type StormPlan } from "./storm-client.js";

const CYCLES = 20_000;
const CONCURRENCY = 200;
/** The warm-up holds this many streams at once: more than the storm's clients, in whole engines of 64. */
const WARM_STREAMS = 256;
const WARM_CYCLES = 2_000;
/** How far the heap may end above its baseline: under 100 bytes per cycle. */
const HEAP_SLACK_MIB = 2;
const PAYLOAD = "x".repeat(2000);
/** How long the pool keeps engines without streams (host/common/engine-pool.ts). */
const RELEASE_AFTER_MS = 10_000;
/** Waits until the pool has released the engines its streams left empty (but its spare). */
const released = () => new Promise((resolve) => setTimeout(resolve, RELEASE_AFTER_MS + 500));

installWasmCensus();

it(`survives ${CYCLES} connect/disconnect cycles with no slot, handler, heap or wasm memory left behind`, async () => {
  let started = 0;
  let finished = 0;
  let cancelled = 0;
  const unexpected: unknown[] = [];
  const reported: unknown[] = [];
  const listener = withSse(
    async (req: IncomingMessage, sse: Sse) => {
      started++;
      try {
        if (req.url === "/sleep") {
          await sse.send(HELLO.slice("data: ".length, -2));
          await sse.sleep(600_000);
        } else {
          for (let i = 1; ; i++) await sse.send(PAYLOAD, { id: String(i) });
        }
      } catch (error) {
        if (error instanceof CancelledError) cancelled++;
        else unexpected.push(error);
      } finally {
        finished++;
      }
    },
    { keepAliveMs: 1000, onError: (error) => reported.push(error) },
  );
  const { running, fleet } = await stage(listener);
  const { port } = running;
  const settled = (what: string) =>
    until(() => listener.openConnections === 0 && finished === started, 30_000, `${what}: every slot free, every handler finished`);
  const plan = (cycles: number, seed: number): StormPlan => ({ cycles, concurrency: CONCURRENCY, seed, cycleTimeoutMs: 10_000 });

  // Warm-up: the pool grows to WARM_STREAMS slots, and a short storm warms every code path.
  await fleet.open({ port, count: WARM_STREAMS, mode: "fast", path: "/sleep", concurrency: WARM_STREAMS });
  await until(() => started === WARM_STREAMS, 30_000, "warm-up streams");
  expect(listener.openConnections).toBe(WARM_STREAMS);
  await fleet.destroy();
  await settled("warm-up");
  await fleet.storm({ port, plan: plan(WARM_CYCLES, 1) });
  await settled("warm-up storm");
  await released();
  const baseline = await measure();
  const startedBefore = started;

  const result = await fleet.storm({ port, plan: plan(CYCLES, 2) });
  await settled("storm");
  await released();
  const after = await measure();

  console.log(
    [
      `storm: ${result.cycles} cycles in ${(result.ms / 1000).toFixed(1)} s, ${CONCURRENCY} at a time, ${result.bodyBytes} body bytes received`,
      `storm: by behaviour ${JSON.stringify(result.byBehaviour)}`,
      `storm: handlers started ${started - startedBefore} (all runs ${started}), finally ran ${finished}, cancelled ${cancelled}, other errors ${unexpected.length}`,
      `storm: slots in use ${listener.openConnections}, stuck cycles ${result.stuck}, non-200 ${result.non200}`,
      show("storm: baseline", baseline),
      show("storm: after", after),
      `storm: heap ${(after.heapMiB - baseline.heapMiB).toFixed(1)} MiB from baseline (bound ${HEAP_SLACK_MIB} MiB)`,
    ].join("\n"),
  );
  expect(result.cycles).toBe(CYCLES);
  expect(result.stuck).toBe(0);
  expect(result.non200).toBe(0);
  expect(listener.openConnections).toBe(0);
  expect(started - startedBefore).toBe(CYCLES - result.byBehaviour["abort-request"]);
  expect(finished).toBe(started);
  expect(cancelled).toBe(started);
  expect(unexpected).toEqual([]);
  expect(reported).toEqual([]);
  expect(after.heapMiB).toBeLessThanOrEqual(baseline.heapMiB + HEAP_SLACK_MIB);
  expect(after.wasmInstances).toBe(baseline.wasmInstances);
  expect(after.wasmMiB).toBe(baseline.wasmMiB);
});
