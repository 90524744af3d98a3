// Keep-alive comments come from the core's deadlines: an idle stream gets `:` lines at the
// configured interval, a stream with events in time gets none, and 0 turns them off.
import { afterEach, describe, expect, it } from "vitest";
import { Channel, withSse, type Sse } from "../host/index.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function body(handler: (sse: Sse) => Promise<void>, keepAliveMs: number): Promise<string> {
  running = await serve(withSse(async (_req, sse) => handler(sse), { keepAliveMs }));
  const client = await rawGet(running.port, "/");
  await client.closed;
  return client.chunks().join("");
}

describe("keep-alive", () => {
  it("sends `:` comments to an idle stream", async () => {
    const text = await body(async (sse) => {
      await sse.send("start");
      await sse.sleep(400);
      await sse.send("stop");
    }, 50);
    expect(text.startsWith("data: start\n\n")).toBe(true);
    expect(text.endsWith("data: stop\n\n")).toBe(true);
    const comments = text.slice("data: start\n\n".length, -"data: stop\n\n".length);
    // 400 ms idle at a 50 ms interval (served a little late, to share wake-ups): 3 to 8.
    expect(comments).toMatch(/^(:\n){3,8}$/);
  });

  it("sends none to a stream whose events come more often than the interval", async () => {
    const text = await body(async (sse) => {
      for (let i = 0; i < 30; i++) {
        await sse.send({ i });
        await sse.sleep(10);
      }
    }, 150);
    expect(text).not.toContain(":\n");
    expect(text.match(/^data: /gm)).toHaveLength(30);
  });

  it("sends none when turned off", async () => {
    const text = await body(async (sse) => {
      await sse.send("start");
      await sse.sleep(200);
    }, 0);
    expect(text).toBe("data: start\n\n");
  });

  it("reaches a stream that has not sent anything yet", async () => {
    const text = await body((sse) => sse.sleep(200), 40);
    expect(text).toMatch(/^(:\n){2,}$/);
  });

  it("sends none to a subscriber while broadcasts come more often than the interval", async () => {
    const channel = new Channel();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    running = await serve(withSse(async (_req, sse) => {
      channel.subscribe(sse);
      await finished;
    }, { keepAliveMs: 150 }));
    const client = await rawGet(running.port, "/");
    while (channel.size === 0) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 40; i++) {
      channel.send({ i });
      await new Promise((r) => setTimeout(r, 10));
    }
    finish();
    await client.closed;
    const text = client.chunks().join("");
    expect(text.match(/^data: /gm)).toHaveLength(40);
    expect(text).not.toContain(":\n");
  });
});
