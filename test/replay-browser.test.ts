// Resumable streams in headless Chromium (Debian's, driven by playwright-core): the page's own
// EventSource is cut off by the server mid-stream, reconnects by itself with Last-Event-ID,
// and ends with exactly the full sequence.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Channel, withSse } from "../host/index.js";
import { until } from "./helpers/events.js";
import { cutNewest, serve, type Running } from "./helpers/listen.js";

let browser: Browser;
let running: Running;
const channel = new Channel({ history: { maxEvents: 1000, maxBytes: 1 << 20 }, retry: 20 });
const seenIds: Array<string | undefined> = [];
const sockets: Socket[] = [];

const PAGE = `<!doctype html><meta charset="utf-8"><script>
  window.got = [];
  new EventSource("/events").onmessage = (e) => window.got.push({ id: e.lastEventId, data: e.data });
</script>`;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const events = withSse(async (req: IncomingMessage, sse) => {
    seenIds.push(sse.lastEventId);
    sockets.push(req.socket);
    channel.subscribe(sse);
    await sse.closed;
  }, { keepAliveMs: 0 });
  running = await serve((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/events") return events(req, res);
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
  });
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

describe("Chromium's EventSource, cut off by the server mid-stream", () => {
  it("reconnects on its own and ends with exactly the full sequence", async () => {
    const page = await browser.newPage();
    await page.goto(running.url);
    const received = () => page.evaluate(() => (window as unknown as { got: unknown[] }).got.length);
    const sent: string[] = [];
    const burst = (k: number) => {
      for (let i = 0; i < k; i++) {
        const n = sent.length;
        const data = n % 7 === 3 ? `big ${n} ${"x".repeat(40_000)}` : `event ${n} é ✓`;
        sent.push(data);
        channel.send(data);
      }
    };
    await until(() => channel.size === 1, 10_000, "the page's first connection");
    const cuts = 5;
    for (let cut = 0; cut < cuts; cut++) {
      burst(10);
      await page.waitForFunction((n) => (window as unknown as { got: unknown[] }).got.length >= n, sent.length);
      burst(10); // in flight when the connection dies
      await new Promise((r) => setImmediate(r));
      cutNewest(sockets, cut);
      await until(() => channel.size === 0, 5000, "the server to see the cut");
      burst(5); // only a replay can bring these
      await until(() => channel.size === 1, 10_000, "the page to reconnect");
    }
    burst(10);
    await page.waitForFunction((n) => (window as unknown as { got: unknown[] }).got.length >= n, sent.length, { timeout: 10_000 });
    const got = await page.evaluate(() => (window as unknown as { got: Array<{ id: string; data: string }> }).got);
    expect(got.map((e) => e.data)).toEqual(sent);
    expect(new Set(got.map((e) => e.id)).size).toBe(sent.length);
    expect(seenIds).toHaveLength(cuts + 1);
    for (const id of seenIds.slice(1)) expect(got.map((e) => e.id)).toContain(id);
    expect(await received()).toBe(sent.length);
    console.log(`chromium: ${sent.length} events (${cuts * 5} sent while it was away), ${cuts} server-side cuts, ${cuts} resumes with Last-Event-ID, 0 lost, 0 duplicated`);
    await page.close();
  });
});
