// The seed's examples, served by withSse on node:http and read by the `eventsource` npm client.
import { EventSource } from "eventsource";
import { afterEach, describe, expect, it } from "vitest";
import { counter, forever } from "../examples/counter.js";
import { withSse } from "../host/index.js";
import { COUNTER_EVENTS, seenUntilEnd, until } from "./helpers/events.js";
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
    expect(await seenUntilEnd(es)).toEqual(COUNTER_EVENTS);
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
