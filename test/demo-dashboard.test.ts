// The demo's live figures (#17): /stats sends a `stats` event every statsMs, sampled from the
// counter's and the broadcast's listeners' stats() and the channel's; the page draws them as
// a chart (inline SVG) from a third EventSource. Here a plain fetch client checks the JSON
// against those stats() (and the bytes its own clients received) under a workload of streams,
// chat, a resume and a reset; then headless Chromium watches the chart follow a workload.
import type { Server } from "node:http";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDemoServer, demoParts, type DemoStats } from "../examples/demo.js";
import { openStream, reader, until } from "./helpers/events.js";
import { listen, type Running } from "./helpers/listen.js";

let running: Running | undefined;
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await running?.close();
  running = undefined;
});

/** What /stats reports, computed here from the parts' stats() snapshots. */
function figures(server: Server) {
  const { counter, broadcast, channel } = demoParts(server);
  const c = counter.stats();
  const b = broadcast.stats();
  const ch = channel.stats();
  return {
    open: c.open + b.open,
    events: c.events + b.events + ch.deliveries,
    bytes: c.bytesWritten + b.bytesWritten,
    cuts: c.ended.buffer_full + c.ended.stalled + b.ended.buffer_full + b.ended.stalled,
    resumes: ch.resumes,
    resets: ch.unknownIds.reset,
  };
}
type Figures = ReturnType<typeof figures>;
const figuresOf = (s: DemoStats): Figures => ({ open: s.open, events: s.total.events, bytes: s.total.bytes, cuts: s.cuts, resumes: s.resumes, resets: s.resets });

/** A stream read with fetch, counting the bytes of its body. */
async function client(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  aborts.push(abort);
  const response = await fetch(url, { headers: { Accept: "text/event-stream", ...headers }, signal: abort.signal });
  expect(response.status).toBe(200);
  const stream = reader();
  let bytes = 0;
  void (async () => {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      stream.feed(chunk);
    }
  })().catch(() => {});
  return { stream, bytes: () => bytes, close: () => abort.abort() };
}

describe("/stats over plain HTTP", () => {
  it("sends the listeners' stats() deltas, and leaves its own watchers out", async () => {
    const server = createDemoServer({ statsMs: 50, clock: false });
    running = await listen(server);
    const url = running.url;
    const watcher = await openStream(`${url}/stats`);
    expect(watcher.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const samples = () => watcher.stream.events().map((e) => (expect(e.event).toBe("stats"), JSON.parse(e.data) as DemoStats));
    const latest = () => samples().at(-1);
    const next = async (): Promise<DemoStats> => {
      const n = samples().length;
      await until(() => samples().length > n, 5000, "a stats event");
      return latest()!;
    };
    /** A sample taken while nothing moved: stats() read before and after it agree, so it must agree with them. */
    const settled = async (): Promise<DemoStats> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = figures(server);
        const t0 = Date.now();
        let s = await next();
        while (Date.parse(s.at) <= t0) s = await next(); // sampled after `before` was read
        if (JSON.stringify(figures(server)) === JSON.stringify(before)) {
          expect(figuresOf(s)).toEqual(before);
          return s;
        }
      }
      throw new Error("the figures never settled");
    };
    const say = async (text: string) => (await (await fetch(`${url}/broadcast`, { method: "POST", body: JSON.stringify({ text }) })).json()) as { heard: number };

    // Idle: two /stats watchers, and neither is in the figures (their streams are written to).
    const second = await client(`${url}/stats`);
    let s = await settled();
    expect(figuresOf(s)).toEqual({ open: 0, events: 0, bytes: 0, cuts: 0, resumes: 0, resets: 0 });
    expect(s.eventsPerSec).toBe(0);
    expect(demoParts(server).stats.stats().open).toBe(2);
    await until(() => second.stream.events().length > 0, 2000, "the second watcher's first event");
    second.close();

    // Three broadcast streams open.
    const k = 3;
    const streams = await Promise.all(Array.from({ length: k }, () => client(`${url}/broadcast`)));
    await until(() => latest()?.open === k, 5000, `open ${k}`);
    s = await settled();
    expect(s.open).toBe(k);

    // Four chat lines, each delivered to the three: 12 events, and the bytes the clients read.
    const before = s;
    for (let i = 0; i < 4; i++) expect(await say(`line ${i}`)).toEqual({ heard: k });
    await until(() => streams.every((c) => c.stream.events().length === 4), 5000, "the chat on every stream");
    await until(() => latest()!.total.events === before.total.events + 4 * k, 5000, "12 more events");
    s = await settled();
    expect(s.total.bytes).toBe(streams.reduce((sum, c) => sum + c.bytes(), 0));
    const during = samples().slice(samples().indexOf(samples().find((x) => x.at === before.at)!) + 1);
    expect(during.reduce((sum, x) => sum + x.interval.events, 0)).toBe(4 * k);
    expect(during.some((x) => x.eventsPerSec > 0 && x.bytesPerSec > 0)).toBe(true);

    // A client that resumes after the first line (3 replayed) and one whose id is unknown (a reset).
    const firstId = streams[0]!.stream.events()[0]!.id!;
    const resumed = await client(`${url}/broadcast?topics=chat`, { "Last-Event-ID": firstId });
    const reset = await client(`${url}/broadcast`, { "Last-Event-ID": "not-an-id-1" });
    await until(() => resumed.stream.events().length === 3 && reset.stream.events().length === 1, 5000, "the replay and the reset");
    expect(reset.stream.events()[0]!.event).toBe("reset");
    await until(() => latest()!.resumes === 1 && latest()!.resets === 1 && latest()!.open === k + 2, 5000, "a resume and a reset");
    s = await settled();
    expect(s.total.events).toBe(before.total.events + 4 * k + 3);

    // All closed: open back to 0, nothing cut (each went as a client that left).
    for (const c of [...streams, resumed, reset]) c.close();
    await until(() => latest()!.open === 0, 5000, "open 0");
    s = await settled();
    expect(s.cuts).toBe(0);
    expect(demoParts(server).broadcast.stats().ended.client_gone).toBe(k + 2);

    // Every sample's deltas are the differences of its totals, and its rates the deltas per second.
    const all = samples();
    expect(all.length).toBeGreaterThan(5);
    for (let i = 1; i < all.length; i++) {
      const [p, q] = [all[i - 1]!, all[i]!];
      expect(q.interval.events).toBe(q.total.events - p.total.events);
      expect(q.interval.bytes).toBe(q.total.bytes - p.total.bytes);
      expect(q.interval.ms).toBeGreaterThan(0);
      expect(q.eventsPerSec).toBeCloseTo((q.interval.events * 1000) / q.interval.ms, 1);
      expect(q.bytesPerSec).toBeCloseTo((q.interval.bytes * 1000) / q.interval.ms, 1);
      expect(Date.parse(q.at)).toBeGreaterThanOrEqual(Date.parse(p.at));
    }
  });

  it("refuses a bad statsMs", () => {
    expect(() => createDemoServer({ statsMs: 0 })).toThrow(RangeError);
    expect(() => createDemoServer({ statsMs: Number.NaN })).toThrow(RangeError);
  });
});

describe("the demo page's chart in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  const shown = (page: Page, id: string) => page.evaluate((id) => document.getElementById(id)!.dataset.value, id);
  const points = (page: Page, id: string) =>
    page.evaluate((id) => (document.getElementById(id)!.getAttribute("points") ?? "").split(" ").filter(Boolean).map((p) => p.split(",").map(Number) as [number, number]), id);
  type Win = { demoStats: DemoStats[]; demoEvents: Array<{ stream: string }>; demoSources: Record<string, EventSource> };

  it("draws open streams and events/s live, and follows a workload", async () => {
    // The counter sends one event and then waits, the clock is far away: the page's two streams stay open and quiet.
    const server = createDemoServer({ statsMs: 100, intervalMs: 60_000, clockMs: 60_000 });
    running = await listen(server);
    const url = running.url;
    const page = await browser.newPage();
    await page.goto(url);

    // Three streams, no more; the stats events are not among demoEvents.
    const sources = await page.evaluate(() => Object.entries((window as unknown as Win).demoSources).map(([k, es]) => [k, new URL(es.url).pathname]));
    expect(sources).toEqual([["counter", "/counter"], ["broadcast", "/broadcast"], ["stats", "/stats"]]);
    await page.waitForFunction(() => document.getElementById("stat-open")!.textContent === "2" && (window as unknown as Win).demoStats.length >= 3);
    expect(await page.textContent("#stats-state")).toBe("live");
    expect(await page.evaluate(() => (window as unknown as Win).demoEvents.map((e) => e.stream).filter((s) => s !== "counter" && s !== "broadcast"))).toEqual([]);
    expect(figures(server).open).toBe(2);
    expect(demoParts(server).stats.stats().open).toBe(1);

    // k more broadcast streams: "open streams" reaches 2 + k, and the chart's newest point is its peak.
    const k = 3;
    const extra = await Promise.all(Array.from({ length: k }, () => client(`${url}/broadcast`)));
    await page.waitForFunction((n) => document.getElementById("stat-open")!.textContent === String(n), 2 + k);
    expect(figures(server).open).toBe(2 + k);
    expect(await page.textContent("#chart-open-max")).toBe(String(2 + k));
    const open = await points(page, "chart-open");
    expect(open.at(-1)![0]).toBeCloseTo(600, 0);
    expect(open.at(-1)![1]).toBeCloseTo(4, 0); // the top: the peak

    // Quiet: events/s 0. Then chat lines, each heard by the page and the k others: events/s > 0.
    await page.waitForFunction(() => document.getElementById("stat-eps")!.dataset.value === "0");
    const quiet = await page.evaluate(() => (window as unknown as Win).demoStats.at(-1)!);
    expect(quiet.eventsPerSec).toBe(0);
    const lines = 5;
    for (let i = 0; i < lines; i++) {
      const heard = await (await fetch(`${url}/broadcast`, { method: "POST", body: JSON.stringify({ text: `hello ${i}` }) })).json();
      expect(heard).toEqual({ heard: 1 + k });
    }
    await page.waitForFunction(() => Number(document.getElementById("stat-eps")!.dataset.value) > 0);
    expect(await page.textContent("#log")).toContain("hello 4");
    await page.waitForFunction(
      ([from, n]) => (window as unknown as Win).demoStats.at(-1)!.total.events === from + n,
      [quiet.total.events, lines * (1 + k)] as const,
    );
    const seen = await page.evaluate(() => (window as unknown as Win).demoStats);
    const since = seen.slice(seen.findIndex((s) => s.at === quiet.at) + 1);
    expect(since.reduce((sum, s) => sum + s.interval.events, 0)).toBe(lines * (1 + k));
    const peak = Math.max(...since.map((s) => s.eventsPerSec));
    expect(peak).toBeGreaterThan(0);
    expect(Number(await page.textContent("#chart-eps-max"))).toBe(peak);
    expect((await points(page, "chart-eps")).some(([, y]) => y < 58)).toBe(true);

    // The streams close: the page sees 2 again. The chart keeps the last 60 points.
    for (const c of extra) c.close();
    await page.waitForFunction(() => document.getElementById("stat-open")!.textContent === "2");
    expect(Number(await shown(page, "stat-cuts"))).toBe(0);
    await page.waitForFunction(() => (window as unknown as Win).demoStats.length === 60, undefined, { timeout: 20_000 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as unknown as Win).demoStats.length)).toBe(60);
    const all = await points(page, "chart-open");
    expect(all).toHaveLength(60);
    expect(all[0]![0]).toBeCloseTo(0, 0);
    expect(all.at(-1)![0]).toBeCloseTo(600, 0);
    await page.close();
    await until(() => demoParts(server).stats.stats().open === 0 && figures(server).open === 0, 5000, "the page's streams closed");
  });
});
