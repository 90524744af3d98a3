// A payload's own code (toJSON, a getter) acting on its stream while the engine serialises it,
// through both hosts: what it may not do is refused, what ends the stream ends the send with
// CancelledError, and nothing is left behind (no pending promise, no pinned kept strings).
import { afterEach, expect, it } from "vitest";
import { CancelledError, Channel, ReentrantSendError, sseResponse, withSse, type Sse } from "../index.js";
import type { Engine } from "../bindings/index.js";
import { until } from "./helpers/events.js";
import { slotOf } from "./helpers/slot.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A withSse stream whose client connects and then reads nothing; `body` runs as its handler. */
async function frozenStream(body: (sse: Sse) => Promise<void>, options: Parameters<typeof withSse>[1] = {}): Promise<void> {
  let finished = false;
  running = await serve(withSse(async (_req, sse) => {
    try {
      await body(sse);
    } finally {
      finished = true;
    }
  }, { keepAliveMs: 0, ...options }));
  const client = await rawGet(running.port, "/");
  client.socket.pause();
  await until(() => finished, 5000, "the handler to finish");
}

it("withSse: a broadcast from inside a payload that cuts its own stream ends that send with CancelledError and releases its kept strings", async () => {
  const outcomes: string[] = [];
  let engine: Engine | undefined;
  const channel = new Channel();
  await frozenStream(async (sse) => {
    engine = slotOf(sse).engine;
    channel.subscribe(sse);
    await sse.send({ unit: "celsius", x: 0 });
    await sse.send({ unit: "celsius", x: 0 }); // "celsius" is now kept: a held event pins it
    const big = "y".repeat(60_000);
    for (const p of [sse.send(big), sse.send(big)]) p.catch(() => {}); // the second waits: the core is full
    const cutting = { unit: "celsius", get x() { for (let i = 0; i < 5; i++) channel.send("z".repeat(60_000)); return 1; } };
    await sse.send(cutting).then(() => outcomes.push("sent"), (error: unknown) => outcomes.push((error as Error).name));
  }, { maxBufferedBytes: 200_000 });
  expect(outcomes).toEqual([CancelledError.name]);
  expect((engine as unknown as { tape: { pins: number } }).tape.pins).toBe(0);
});

it("withSse and sseResponse: a comment from inside a payload is refused, never queued ahead of it", async () => {
  const refused: unknown[] = [];
  const hostile = (sse: Sse) => ({ toJSON() { sse.comment("inside").catch((error: unknown) => refused.push(error)); return 1; } });
  await frozenStream(async (sse) => {
    const big = "y".repeat(60_000);
    for (const p of [sse.send(big), sse.send(big)]) p.catch(() => {}); // later sends wait
    await sse.send(hostile(sse)).catch(() => {});
  }, { maxBufferedBytes: 200_000, stallTimeoutMs: 200 });
  const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), async (sse) => {
    await sse.send("x".repeat(100)); // fills the body: later sends wait
    await sse.send(hostile(sse));
  }, { highWaterMark: 50, keepAliveMs: 0 });
  const text = await response.text();
  expect(text).not.toContain(": inside");
  expect(refused).toHaveLength(2);
  for (const error of refused) expect(error).toBeInstanceOf(ReentrantSendError);
});
