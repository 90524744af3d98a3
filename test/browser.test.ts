// The demo page in headless Chromium (Debian's, driven by playwright-core): its EventSources
// receive the counter and the broadcast (clock and chat), and lastEventId follows the ids
// sent, across the reconnect that resumes the counter from Last-Event-ID.
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer } from "../examples/demo.js";
import { listen, type Running } from "./helpers/listen.js";

interface Seen {
  stream: string;
  type: string;
  data: string;
  lastEventId: string;
}

let browser: Browser;
let running: Running;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  running = await listen(createDemoServer({ intervalMs: 10, clockMs: 50, retryMs: 50 }));
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

describe("the demo page in Chromium", () => {
  it("shows the counter live, and lastEventId follows the ids across a reconnect", async () => {
    const page = await browser.newPage();
    await page.goto(running.url);
    // Two connections' worth: 0..9, the end, then a reconnect with Last-Event-ID: 9 → 10..19.
    await page.waitForFunction(() => (window as unknown as { demoEvents: Seen[] }).demoEvents.filter((e) => e.stream === "counter").length >= 22, undefined, { timeout: 20_000 });
    const seen = await page.evaluate(() => (window as unknown as { demoEvents: Seen[] }).demoEvents.filter((e) => e.stream === "counter"));
    const first = seen.slice(0, 22);
    const expected: Array<Pick<Seen, "type" | "data" | "lastEventId">> = [];
    for (const block of [0, 10]) {
      for (let i = block; i < block + 10; i++) expected.push({ type: "message", data: JSON.stringify({ counter: i }), lastEventId: String(i) });
      expected.push({ type: "comment", data: "end", lastEventId: String(block + 9) });
    }
    expect(first.map(({ type, data, lastEventId }) => ({ type, data, lastEventId }))).toEqual(expected);
    await page.waitForFunction(() => Number(document.getElementById("counter")!.textContent) >= 19);
    await page.close();
  });

  it("receives the broadcast clock and chat on every open page", async () => {
    const pages = await Promise.all([browser.newPage(), browser.newPage()]);
    await Promise.all(pages.map((p) => p.goto(running.url)));
    for (const p of pages) {
      await p.waitForFunction(() => (window as unknown as { demoEvents: Seen[] }).demoEvents.filter((e) => e.type === "clock").length >= 3);
    }
    // Both pages are subscribed once their clocks count two listeners.
    await pages[0]!.waitForFunction(() => /· 2 listening/.test(document.getElementById("clock")!.textContent ?? ""));
    await pages[0]!.fill("#text", "hello from page 0");
    const [posted] = await Promise.all([
      pages[0]!.waitForResponse((r) => r.url().endsWith("/broadcast") && r.request().method() === "POST"),
      pages[0]!.press("#text", "Enter"),
    ]);
    const chatHeard = ((await posted.json()) as { heard: number }).heard;
    for (const p of pages) {
      await p.waitForFunction(() => (window as unknown as { demoEvents: Seen[] }).demoEvents.some((e) => e.type === "chat"));
      const chat = await p.evaluate(() => (window as unknown as { demoEvents: Seen[] }).demoEvents.filter((e) => e.type === "chat"));
      expect(chat.map((e) => [e.type, (JSON.parse(e.data) as { text: string }).text])).toEqual([["chat", "hello from page 0"]]);
      expect(await p.textContent("#log")).toContain("hello from page 0");
    }
    await Promise.all(pages.map((p) => p.close()));
    expect(chatHeard).toBe(2);
  });
});
