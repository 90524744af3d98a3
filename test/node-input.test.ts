// Bad input from handler code rejects that one send() with the bindings' typed error; nothing
// of it reaches the client and the stream goes on.
import { afterEach, describe, expect, it } from "vitest";
import { FrameTooLargeError, InvalidFieldError, JsonValueError } from "../bindings/index.js";
import { withSse, type Sse } from "../host/index.js";
import { readAll } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const cyclic: Record<string, unknown> = { name: "loop" };
cyclic["self"] = cyclic;

const cases: Array<[string, (sse: Sse) => Promise<void>, new (...args: never[]) => Error, string]> = [
  ["an event name with a newline", (sse) => sse.send("x", { event: "bad\nname" }), InvalidFieldError, "EVENT_NAME"],
  ["an event name with a newline (string form)", (sse) => sse.send("x", "bad\rname"), InvalidFieldError, "EVENT_NAME"],
  ["an id with NUL", (sse) => sse.send("x", { id: "a\0b" }), InvalidFieldError, "ID"],
  ["a negative retry", (sse) => sse.send("x", { retry: -5 }), InvalidFieldError, "RETRY"],
  ["a fractional retry", (sse) => sse.send("x", { retry: 1.5 }), InvalidFieldError, "RETRY"],
  ["a BigInt payload", (sse) => sse.send({ n: 10n }), JsonValueError, "JSON_VALUE"],
  ["a cyclic object", (sse) => sse.send(cyclic), JsonValueError, "JSON_VALUE"],
  ["undefined (no JSON form)", (sse) => sse.send(undefined), JsonValueError, "JSON_VALUE"],
];

describe("bad input from the handler", () => {
  it.each(cases)("rejects %s with a typed error and keeps the stream usable", async (_name, bad, ErrorClass, code) => {
    let caught: unknown;
    const listener = withSse(async (_req, sse) => {
      await sse.send("before", { id: "1" });
      try {
        await bad(sse);
      } catch (e) {
        caught = e;
      }
      await sse.send("after", { id: "2" });
    });
    running = await serve(listener);
    const { stream } = await readAll(running.url);
    expect(caught).toBeInstanceOf(ErrorClass);
    expect((caught as { code: string }).code).toBe(code);
    expect(stream.items).toEqual([
      { kind: "event", event: "message", data: "before", id: "1" },
      { kind: "event", event: "message", data: "after", id: "2" },
    ]);
  });

  it("rejects an event larger than maxEventBytes with FrameTooLargeError; smaller ones still go", async () => {
    let caught: unknown;
    const listener = withSse(
      async (_req, sse) => {
        try {
          await sse.send("z".repeat(5000));
        } catch (e) {
          caught = e;
        }
        await sse.send("z".repeat(1000));
      },
      { maxEventBytes: 4096 },
    );
    running = await serve(listener);
    const { stream } = await readAll(running.url);
    expect(caught).toBeInstanceOf(FrameTooLargeError);
    expect(stream.events().map((e) => e.data.length)).toEqual([1000]);
  });

  it("rejects a refused event that waited on backpressure, and sends the next", async () => {
    // The first two fill the core (4 KiB); the bad third waits behind them and is refused when framed.
    const outcomes: string[] = [];
    const listener = withSse(
      async (_req, sse) => {
        const sends = [sse.send("a".repeat(3000)), sse.send("b".repeat(3000)), sse.send("c", { id: "\n" }), sse.send("d")];
        for (const s of sends) outcomes.push(await s.then(() => "ok", (e: Error) => e.name));
      },
      { maxEventBytes: 4096 },
    );
    running = await serve(listener);
    const { stream } = await readAll(running.url);
    expect(outcomes).toEqual(["ok", "ok", "InvalidFieldError", "ok"]);
    expect(stream.events().map((e) => e.data[0])).toEqual(["a", "b", "d"]);
  });

  it("rejects a negative sleep with a RangeError", async () => {
    let caught: unknown;
    running = await serve(
      withSse(async (_req, sse) => {
        await sse.sleep(-1).catch((e: unknown) => (caught = e));
      }),
    );
    await readAll(running.url);
    expect(caught).toBeInstanceOf(RangeError);
  });
});
