// The handler test/runtimes.test.ts runs on Node (in the vitest process) and under Bun and
// Deno (server.ts): the same code, so the bytes it frames must be the same everywhere.
import type { Sse } from "../../host/common/index.js";

/** A JSON record: strings with escapes and non-ASCII, numbers, literals, an array, nesting. */
export const RECORD = {
  sensor: 't-1 "north"\nwing',
  value: 21.5,
  small: -1.25e-7,
  ok: true,
  none: null,
  tags: ["a", "é", 3],
  nested: { unit: "°C", range: { min: -40, max: 125 } },
};

/** The seed's counter (README "Use it", 5 ms sleeps), then a named event, an id and the record. */
export async function counter(sse: Sse): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await sse.sleep(5);
    await sse.send({ counter: i });
  }
  await sse.send("hello", { event: "greeting" });
  await sse.send("with an id", { id: "42" });
  await sse.send(RECORD, { event: "record", id: "r-1" });
  await sse.send("end", { event: "comment" });
}
