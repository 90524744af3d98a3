// A real Prometheus server scrapes the demo's /metrics (issue #17): after a known workload on the
// broadcast channel (n live readers, k frozen readers cut as too slow, r clients resumed from the
// history, u clients with an unknown id given a reset) and one counter stream, Prometheus' own
// HTTP API answers the values the workload implies, with the metric types it parsed.
import type { Server } from "node:http";
import { describe, expect, it } from "vitest";
import { createDemoServer, demoParts } from "../examples/demo.js";
import { Channel, PROMETHEUS_CONTENT_TYPE } from "../host/index.js";
import { until } from "./helpers/events.js";
import { listen } from "./helpers/listen.js";
import { bodyBytes, bodyText } from "./helpers/metrics.js";
import { startPrometheus, type PrometheusServer } from "./helpers/prometheus-server.js";
import { rawGet, type RawClient } from "./helpers/raw.js";
import { later } from "./helpers/cleanups.js";


async function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<RawClient> {
  const client = await rawGet(port, path, headers);
  later(() => client.socket.destroy());
  return client;
}

const events = (c: RawClient) => (bodyText(c.text()).match(/\n\n/g) ?? []).length;
/** A transient event big enough that a reader who stops reading is cut after a few dozen (the demo's maxBufferedBytes is 1 MiB). */
const BIG = "b".repeat(60 * 1024);

/** Series by `name{label="value",…}` (labels sorted, Prometheus' own instance and job left out). */
function byKey(series: Array<{ name: string; labels: Record<string, string>; value: number }>): Map<string, number> {
  const map = new Map<string, number>();
  for (const { name, labels, value } of series) {
    const { instance: _instance, job: _job, ...rest } = labels;
    const inner = Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(",");
    map.set(`${name}{${inner}}`, value);
  }
  return map;
}

/** Polls Prometheus until every expected series has its value (a scrape after the workload), or throws with what differs. */
async function expectScraped(prometheus: PrometheusServer, expected: () => Record<string, number>, ms = 30_000): Promise<Map<string, number>> {
  const deadline = Date.now() + ms;
  let diff: string[] = [];
  for (;;) {
    const got = byKey(await prometheus.query('{__name__=~"wasm_sse_.+"}'));
    const want = expected();
    diff = Object.entries(want).filter(([key, value]) => got.get(key) !== value).map(([key, value]) => `${key}: want ${value}, got ${got.get(key)}`);
    if (diff.length === 0) return got;
    if (Date.now() > deadline) throw new Error(`Prometheus never had the workload's values within ${ms} ms:\n${diff.join("\n")}\n${prometheus.logTail(10)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a Prometheus server scraping the demo's /metrics", () => {
  it("has, after a known workload, the streams opened, cut, resumed and reset, and the channel's figures", async () => {
    const channel = new Channel({ history: { maxEvents: 100, maxBytes: 64 * 1024 }, unknownId: "reset" });
    const server: Server = createDemoServer({ broadcast: channel, clock: false, intervalMs: 1 });
    const demo = await listen(server);
    later(() => demo.close());
    const parts = demoParts(server);

    const metrics = await fetch(`${demo.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await metrics.text()).toContain('wasm_sse_streams_opened_total{listener="broadcast"} 0\n');

    // Prometheus finds its target a few seconds after it starts: the workload runs meanwhile.
    const prometheus = await startPrometheus({ targets: [`127.0.0.1:${demo.port}`], job: "demo", scrapeIntervalMs: 200 });
    later(() => prometheus.stop());

    // The workload. n live readers and k frozen ones, subscribed before anything is sent.
    const n = 3;
    const k = 2;
    const r = 2;
    const u = 2;
    const live = await Promise.all(Array.from({ length: n }, () => raw(demo.port, "/broadcast")));
    const frozen = await Promise.all(Array.from({ length: k }, () => raw(demo.port, "/broadcast")));
    await until(() => frozen.every((c) => c.text().includes("\r\n\r\n")), 5000, "the frozen readers' heads");
    for (const c of frozen) c.socket.pause();
    await until(() => channel.size === n + k, 5000, "the first subscribers");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      channel.send({ text: `chat ${i}` }, "chat");
      ids.push(channel.lastId!);
    }
    // r resume after the second chat event (3 replayed each), u come back with an id never sent.
    const resumed = await Promise.all(Array.from({ length: r }, () => raw(demo.port, "/broadcast", { "Last-Event-ID": ids[1]! })));
    const reset = await Promise.all(Array.from({ length: u }, () => raw(demo.port, "/broadcast", { "Last-Event-ID": "an-id-never-sent" })));
    await until(() => channel.size === n + k + r + u, 5000, "every subscriber");
    await until(() => resumed.every((c) => events(c) === 3) && reset.every((c) => events(c) === 1), 5000, "the replays and resets");
    const reading = [...live, ...resumed, ...reset];
    // Big transient events, one at a time while the readers keep up, until both frozen readers are cut.
    let big = 0;
    let deliveredBig = 0;
    while (channel.size > n + r + u) {
      deliveredBig += channel.send(BIG, { record: false });
      big++;
      const want = big * (BIG.length + 8);
      await until(() => reading.every((c) => bodyBytes(c.text()) >= want), 10_000, "the readers to keep up");
      if (big > 2000) throw new Error("the frozen readers were never cut");
    }
    // The counter: ten events and a last one, then it returns.
    const counter = await raw(demo.port, "/counter");
    await counter.closed;
    expect(events(counter)).toBe(11);

    const listener = parts.broadcast.stats();
    const stats = channel.stats();
    expect(listener).toMatchObject({ open: n + r + u, opened: n + k + r + u, ended: { buffer_full: k, returned: 0, client_gone: 0, stalled: 0 } });
    expect(stats).toMatchObject({ subscribers: n + r + u, events: 5 + big, resumes: r, replayedEvents: 3 * r, unknownIds: { reset: u, all: 0 }, historySize: 5 });
    expect(stats.deliveries).toBe(5 * (n + k) + 3 * r + deliveredBig);

    const l = (name: string, listenerName: string, extra = "") => `${name}{${extra}${extra ? "," : ""}listener="${listenerName}"}`;
    const c = (name: string, extra = "") => `${name}{${extra ? `${extra},` : ""}channel="broadcast"}`;
    const scraped = await expectScraped(prometheus, () => ({
      [l("wasm_sse_streams_opened_total", "broadcast")]: n + k + r + u,
      [l("wasm_sse_streams_open", "broadcast")]: n + r + u,
      [l("wasm_sse_streams_ended_total", "broadcast", 'cause="buffer_full"')]: k,
      [l("wasm_sse_streams_ended_total", "broadcast", 'cause="returned"')]: 0,
      [l("wasm_sse_streams_ended_total", "broadcast", 'cause="stalled"')]: 0,
      [l("wasm_sse_streams_ended_total", "broadcast", 'cause="client_gone"')]: 0,
      [l("wasm_sse_slots_in_use", "broadcast")]: n + r + u,
      [l("wasm_sse_events_total", "broadcast")]: 0, // the channel's frames are not handler sends
      [l("wasm_sse_written_bytes_total", "broadcast")]: parts.broadcast.stats().bytesWritten,
      [l("wasm_sse_streams_opened_total", "counter")]: 1,
      [l("wasm_sse_streams_ended_total", "counter", 'cause="returned"')]: 1,
      [l("wasm_sse_events_total", "counter")]: 11,
      [l("wasm_sse_written_bytes_total", "counter")]: bodyBytes(counter.text()),
      [l("wasm_sse_streams_open", "counter")]: 0,
      [c("wasm_sse_channel_subscribers")]: n + r + u,
      [c("wasm_sse_channel_events_total")]: 5 + big,
      [c("wasm_sse_channel_resumes_total")]: r,
      [c("wasm_sse_channel_replayed_events_total")]: 3 * r,
      [c("wasm_sse_channel_unknown_ids_total", 'answer="reset"')]: u,
      [c("wasm_sse_channel_unknown_ids_total", 'answer="all"')]: 0,
      [c("wasm_sse_channel_history_events")]: 5,
      [c("wasm_sse_channel_deliveries_total")]: stats.deliveries,
      [c("wasm_sse_channel_framed_bytes_total")]: stats.bytesFramed,
    }));
    // No broker series for an in-process channel; /stats' own listener is in no figure.
    expect([...scraped.keys()].filter((key) => key.startsWith("wasm_sse_broker_"))).toEqual([]);
    expect([...scraped.keys()].filter((key) => /listener="(?!counter"|broadcast")/.test(key))).toEqual([]);

    // The scrape is healthy, and Prometheus read the types the exposition declares.
    const [up] = await prometheus.query('up{job="demo"}');
    expect(up?.value).toBe(1);
    const targets = await prometheus.api<{ activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> }>("targets");
    expect(targets.activeTargets.map((t) => [t.scrapeUrl, t.health, t.lastError])).toEqual([[`${demo.url}/metrics`, "up", ""]]);
    const metadata = await prometheus.api<Record<string, Array<{ type: string }>>>("metadata");
    expect(metadata["wasm_sse_streams_ended_total"]?.[0]?.type).toBe("counter");
    expect(metadata["wasm_sse_streams_open"]?.[0]?.type).toBe("gauge");
    expect(metadata["wasm_sse_channel_deliveries_total"]?.[0]?.type).toBe("counter");
  });
});
