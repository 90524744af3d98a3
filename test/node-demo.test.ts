// The demo server over plain HTTP: the counter resumes after Last-Event-ID, the broadcast's
// per-subscriber topic filter, and the chat POST's input checks.
import { afterEach, describe, expect, it } from "vitest";
import { createDemoServer } from "../examples/demo.js";
import { reader, readAll, until } from "./helpers/events.js";
import { listen, type Running } from "./helpers/listen.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const say = (text: unknown) => fetch(`${running!.url}/broadcast`, { method: "POST", body: JSON.stringify({ text }) });

describe("the demo server", () => {
  it("resumes the counter after the Last-Event-ID it is given", async () => {
    running = await listen(createDemoServer({ intervalMs: 1 }));
    const { stream } = await readAll(`${running.url}/counter`, { "Last-Event-ID": "41" });
    expect(stream.events().map((e) => e.id ?? e.event)).toEqual([...Array.from({ length: 10 }, (_, i) => String(42 + i)), "comment"]);
    expect(stream.items[0]).toEqual({ kind: "retry", ms: 1000 });
  });

  it("filters the broadcast by ?topics= and delivers chat to every listener", async () => {
    running = await listen(createDemoServer({ clockMs: 10 }));
    const abort = new AbortController();
    const streams = await Promise.all(
      ["/broadcast?topics=chat", "/broadcast"].map(async (path) => {
        const response = await fetch(`${running!.url}${path}`, { signal: abort.signal });
        const stream = reader();
        void (async () => {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
        })().catch(() => {});
        return stream;
      }),
    );
    const [chatOnly, everything] = streams as [ReturnType<typeof reader>, ReturnType<typeof reader>];
    await until(() => everything.events().filter((e) => e.event === "clock").length >= 2, 2000, "clock events");
    const heard = (await (await say("hi")).json()) as { heard: number };
    expect(heard).toEqual({ heard: 2 });
    await until(() => chatOnly.events().length === 1 && everything.events().some((e) => e.event === "chat"), 2000, "the chat event");
    expect(chatOnly.events().map((e) => [e.event, (JSON.parse(e.data) as { text: string }).text])).toEqual([["chat", "hi"]]);
    abort.abort();
  });

  it("refuses an empty chat message with 400 and an oversized one with 413", async () => {
    running = await listen(createDemoServer());
    expect((await say("   ")).status).toBe(400);
    expect((await say(42)).status).toBe(400);
    expect((await fetch(`${running.url}/broadcast`, { method: "POST", body: "not json" })).status).toBe(400);
    expect((await say("x".repeat(2000))).status).toBe(413);
  });
});
