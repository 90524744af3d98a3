// The seed's examples, served by withSse on node:http and read by the `eventsource` npm client.
import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { counter, forever } from "../examples/counter.js";
import { withSse } from "../host/index.js";
import { until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe("the seed's counter under the eventsource client", () => {
  it("arrives as 10 message events with {counter: i}, one comment event, then the stream ends", async () => {
    const listener = withSse(counter(5));
    running = await serve(listener);
    const es = new EventSource(`${running.url}/events`);
    const seen: Array<{ type: string; data: string }> = [];
    let ended = false;
    es.addEventListener("message", (e) => seen.push({ type: e.type, data: e.data }));
    es.addEventListener("comment", (e) => seen.push({ type: e.type, data: e.data }));
    // After the last event the server ends the response; the client reports it as an error
    // (and would reconnect), which is how a stream's end looks to EventSource.
    es.addEventListener("error", () => {
      if (seen.length > 0) ended = true;
      es.close();
    });
    await until(() => ended, 5000, "the end of the stream");
    expect(seen).toEqual([
      ...Array.from({ length: 10 }, (_, i) => ({ type: "message", data: JSON.stringify({ counter: i }) })),
      { type: "comment", data: "end" },
    ]);
    await until(() => listener.openConnections === 0, 1000, "the core slot to be freed");
  });

  it("runs the cancellation example's except-branch when the client goes", async () => {
    const lines: string[] = [];
    const listener = withSse(forever(5, (line) => lines.push(line)));
    running = await serve(listener);
    const es = new EventSource(`${running.url}/forever`);
    let messages = 0;
    es.addEventListener("message", () => messages++);
    await until(() => messages >= 3, 5000, "three events");
    es.close();
    await until(() => lines.length > 0, 2000, "the handler's catch");
    expect(lines).toEqual(["Client disconnected!"]);
    expect(listener.openConnections).toBe(0);
  });
});
