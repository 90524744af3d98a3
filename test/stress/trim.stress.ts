// The engine pool shrinks: 2,000 streams spread over 125 core instances, each stream's own 8 KiB
// of outbound space touched by a 7 KiB event (a larger one would go to its instance's one wide
// region instead), then every client goes. The instances left without a stream are kept 10 s
// (for clients coming back), then released (one spare is kept), so their linear memory is freed: the live wasm memory and the
// server's RSS go back down, and the pool still grows again for new clients.
import { expect, it } from "vitest";
import { withSse } from "../../host/index.js";
import { until } from "../helpers/events.js";
import { installWasmCensus, measure, show } from "./memory.js";
import { stage } from "./stage.js";

const STREAMS = 2000;
const PER_ENGINE = 16;
const EVENT_BYTES = 7 * 1024;
/** How long the pool keeps engines without streams (host/common/engine-pool.ts). */
const RELEASE_AFTER_MS = 10_000;
/** What the events made resident in the instances' memory: both pages of each stream's own space. */
const TOUCHED_MIB = (STREAMS * 8 * 1024) / 2 ** 20;

installWasmCensus();

it(`releases the core instances of ${STREAMS} closed streams, keeping one spare`, async () => {
  let started = 0;
  let finished = 0;
  const listener = withSse(
    async (_req, sse) => {
      started++;
      try {
        await sse.send("x".repeat(EVENT_BYTES));
        await sse.closed;
      } finally {
        finished++;
      }
    },
    { keepAliveMs: 0, maxConnections: STREAMS, connectionsPerEngine: PER_ENGINE },
  );
  const { running, fleet } = await stage(listener);
  const before = await measure();

  const { opened } = await fleet.open({ port: running.port, count: STREAMS, mode: "fast", path: "/", concurrency: 200 });
  expect(opened).toBe(STREAMS);
  const got = await fleet.wait({ mode: "fast", events: 1, timeoutMs: 60_000 });
  expect(got.events).toEqual({ total: STREAMS, min: 1, max: 1 });
  expect(listener.openConnections).toBe(STREAMS);
  const open = await measure();
  expect(open.wasmInstances - before.wasmInstances).toBe(STREAMS / PER_ENGINE);

  await fleet.destroy();
  await until(() => listener.openConnections === 0 && finished === started, 30_000, "every stream closed");
  // Kept a while for clients coming back (a reconnect storm), then released.
  const closed = await measure();
  expect(closed.wasmInstances - before.wasmInstances).toBe(STREAMS / PER_ENGINE);
  await new Promise((resolve) => setTimeout(resolve, RELEASE_AFTER_MS + 500));
  const after = await measure();
  expect(after.wasmInstances - before.wasmInstances).toBe(1); // the spare
  expect(after.wasmMiB).toBeLessThan(before.wasmMiB + open.wasmMiB / 50);
  expect(open.rssMiB - after.rssMiB).toBeGreaterThan(TOUCHED_MIB / 2);

  // The pool grows again: the spare first, then new instances.
  const again = await fleet.open({ port: running.port, count: PER_ENGINE * 3, mode: "fast", path: "/", concurrency: 50 });
  expect(again.opened).toBe(PER_ENGINE * 3);
  await until(() => listener.openConnections === PER_ENGINE * 3, 10_000, "new streams");
  const regrown = await measure();
  expect(regrown.wasmInstances - before.wasmInstances).toBe(3);
  await fleet.stop();

  console.log(
    [
      `trim: ${STREAMS} streams over ${STREAMS / PER_ENGINE} instances, ${EVENT_BYTES / 1024} KiB event each, then all closed`,
      show("trim: before", before),
      show("trim: open", open),
      show("trim: all closed", after),
      show("trim: 48 new streams", regrown),
    ].join("\n"),
  );
});
