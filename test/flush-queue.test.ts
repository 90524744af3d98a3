// The flush queue under a flush that throws: the rest of that turn's batch is still flushed and
// can be marked again (before, they stayed marked as scheduled and were never flushed again).
import { expect, it } from "vitest";
import { scheduleFlush, type Flushable } from "../host/common/flush-queue.js";

it("flushes every other target of a turn when one flush throws, logs it, and takes marks again", async () => {
  const logged: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    const flushed: string[] = [];
    const target = (name: string, fail = false): Flushable => ({
      flushScheduled: false,
      flush: () => {
        if (fail) throw new Error(`${name} failed`);
        flushed.push(name);
      },
    });
    const [a, b, c] = [target("a"), target("b", true), target("c")];
    for (const t of [a, b, c]) scheduleFlush(t);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toEqual(["a", "c"]);
    expect(logged).toHaveLength(1);
    expect(String(logged[0]![1])).toMatch(/b failed/);
    expect([a, b, c].map((t) => t.flushScheduled)).toEqual([false, false, false]);
    scheduleFlush(c);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toEqual(["a", "c", "c"]);
  } finally {
    console.error = original;
  }
});
