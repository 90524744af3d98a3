// Handlers the workerd worker (worker.ts) serves and the test process runs under Node's
// sseResponse too, so the bytes each frames can be compared byte for byte.
import type { Sse } from "../../host/common/sse.js";

/** README "Use it": ten counters, a sleep before each, then a named event. */
export async function counter(sse: Sse, sleepMs = 5): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await sse.sleep(sleepMs);
    await sse.send({ counter: i });
  }
  await sse.send("end", { event: "comment" });
}

/** A named event, ids, a retry, multi-line text and a JSON record (nested, escapes, non-ASCII, numbers). */
export async function fields(sse: Sse): Promise<void> {
  await sse.send("hello", "greeting");
  await sse.send("two\nlines\r\nand a CR\rdone", { event: "text", id: "1" });
  await sse.send(
    { sensor: "t-7", celsius: 21.5, tiny: 1e-7, big: 2 ** 60, ok: true, none: null, skip: undefined, tags: ["a", "ü", "😀"], quote: 'say "hi"\n', nested: { depth: [1, [2, [3]]] } },
    { event: "record", id: "r-2", retry: 2500 },
  );
  await sse.comment("a comment");
  await sse.send(new TextEncoder().encode("bytes"), { id: "" });
  await sse.send([1, "x", false, { a: 1 }]);
}
