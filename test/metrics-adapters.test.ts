// host/metrics: the prom-client adapter and the OpenTelemetry instruments report what
// prometheusText reports, read from the same snapshots, after a real workload (withSse on
// node:http, a Channel with history, a SharedChannel on a real redis-server). Every source is
// wrapped to record the snapshot each read took, so a live number moving between two reads (the
// Redis reader's) cannot make the comparison flaky, and to count the reads.
import { spawnSync } from "node:child_process";
import type { IncomingMessage } from "node:http";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { Counter, Gauge, Registry, type OpenMetricsContentType } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricFamilies, type MetricSample, type MetricSources } from "../host/common/prometheus.js";
import { registerOpenTelemetry, registerPromClient } from "../host/metrics/index.js";
import { Channel, prometheusText, withSse, type Sse, type SseListener } from "../host/node/index.js";
import { SharedChannel } from "../host/redis/index.js";
import { openStream, readAll, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { startRedis, type RedisServer } from "./helpers/redis-server.js";

const ROOT = join(import.meta.dirname, "..");

let redis: RedisServer;
let news: Channel;
let shared: SharedChannel;
let feed: SseListener<IncomingMessage>;
let counter: SseListener<IncomingMessage>;
let sharedFeed: SseListener<IncomingMessage>;
const servers: Running[] = [];
const clients: Array<Awaited<ReturnType<typeof openStream>>> = [];
const responses: Response[] = [];
let sources: MetricSources;

/** Streams subscribed to `channel` until their clients go. */
const subscriber = (channel: Channel | SharedChannel) =>
  withSse(async (_req: IncomingMessage, sse: Sse) => {
    channel.subscribe(sse);
    await sse.closed;
  }, { keepAliveMs: 0 });

beforeAll(async () => {
  redis = await startRedis();
  news = new Channel({ history: { maxEvents: 100, maxBytes: 64 * 1024 } });
  shared = await SharedChannel.connect({ redis: { url: redis.url, stream: "metrics" }, onError: () => {} });
  feed = subscriber(news);
  sharedFeed = subscriber(shared);
  counter = withSse(async (_req: IncomingMessage, sse: Sse) => {
    for (let i = 0; i < 5; i++) await sse.send({ i });
    await sse.comment("done");
  }, { keepAliveMs: 0 });
  const [feedAt, counterAt, sharedAt] = await Promise.all([feed, counter, sharedFeed].map((l) => serve(l)));
  servers.push(feedAt!, counterAt!, sharedAt!);

  // Three subscribers stay; a fourth goes; the channel's events reach all of them.
  for (let i = 0; i < 3; i++) clients.push(await openStream(feedAt!.url));
  const leaving = new AbortController();
  await fetch(feedAt!.url, { headers: { Accept: "text/event-stream" }, signal: leaving.signal });
  await until(() => news.size === 4, 5000, "four subscribers");
  leaving.abort();
  await until(() => news.size === 3, 5000, "the fourth gone");
  for (let i = 0; i < 3; i++) news.send({ n: i });
  await until(() => clients.every((c) => c.stream.events().length === 3), 5000, "three events each");
  // One resumes after the first event: two replayed.
  const first = clients[0]!.stream.events()[0]!.id!;
  const resumed = await fetch(feedAt!.url, { headers: { Accept: "text/event-stream", "Last-Event-ID": first } });
  responses.push(resumed);
  await until(() => news.stats().resumes === 1, 5000, "the resume");

  // Two complete streams; two refusals.
  await Promise.all([readAll(counterAt!.url), readAll(counterAt!.url)]);
  expect((await fetch(counterAt!.url, { method: "POST" })).status).toBe(405);
  expect((await fetch(counterAt!.url, { headers: { Accept: "application/json" } })).status).toBe(406);

  // The shared channel: two subscribers, two events through Redis.
  for (let i = 0; i < 2; i++) clients.push(await openStream(sharedAt!.url));
  await until(() => shared.size === 2, 5000, "two shared subscribers");
  await shared.send({ s: 1 });
  await shared.send({ s: 2 });
  await until(() => clients.slice(-2).every((c) => c.stream.events().length === 2), 5000, "two shared events each");

  sources = { streams: { feed, counter, shared: sharedFeed }, channels: { news, shared } };
});

afterAll(async () => {
  for (const r of [...clients.map((c) => c.response), ...responses]) void r.body?.cancel().catch(() => {});
  await Promise.all(servers.map((s) => s.close()));
  await shared?.close();
  await redis?.stop();
});

/**
 * `sources`, each recording the snapshot its reads took (`frozen` serves them again) and
 * counting the reads.
 */
function recording(of: MetricSources) {
  const last = new Map<string, unknown>();
  let reads = 0;
  const record = <T>(key: string, read: () => T) => ({
    stats: (): T => {
      reads++;
      const s = read();
      last.set(key, s);
      return s;
    },
  });
  const map = <S, T>(record: Record<string, S> | undefined, f: (name: string, s: S) => T) =>
    Object.fromEntries(Object.entries(record ?? {}).map(([name, s]) => [name, f(name, s)]));
  const live: MetricSources = {
    streams: map(of.streams, (name, s) => record(`stream ${name}`, () => ("stats" in s ? s.stats() : s()))),
    channels: map(of.channels, (name, s) => record(`channel ${name}`, () => s.stats())),
  };
  const frozen = (): MetricSources => ({
    streams: map(of.streams, (name) => ({ stats: () => last.get(`stream ${name}`) as never })),
    channels: map(of.channels, (name) => ({ stats: () => last.get(`channel ${name}`) as never })),
  });
  return { live, frozen, reads: () => reads, count: () => Object.keys(live.streams!).length + Object.keys(live.channels!).length };
}

/** prometheusText of `sources` as a prom-client Registry prints it: a blank line between families. */
const asRegistryPrints = (sources: MetricSources): string => prometheusText(sources).replaceAll("\n# HELP", "\n\n# HELP");

describe("registerPromClient", () => {
  it("prints what prometheusText prints, counters as counters, one snapshot a scrape", async () => {
    const rec = recording(sources);
    const registry = new Registry();
    const unregister = registerPromClient(registry, rec.live);
    const before = rec.reads();
    const text = await registry.metrics();
    expect(rec.reads() - before).toBe(rec.count());
    expect(text).toBe(asRegistryPrints(rec.frozen()));

    const families = metricFamilies(rec.frozen());
    expect(families.length).toBe(27); // streams', channels' and the broker's
    expect(text).toContain(`# TYPE wasm_sse_events_total counter\nwasm_sse_events_total{listener="feed"} 0\nwasm_sse_events_total{listener="counter"} 10\n`);
    expect(text).toContain(`wasm_sse_requests_refused_total{listener="counter",status="405"} 1\n`);
    expect(text).toContain(`wasm_sse_channel_replayed_events_total{channel="news"} 2\n`);
    expect(text).toContain(`wasm_sse_broker_up{channel="shared"} 1\n`);

    const json = await registry.getMetricsAsJSON();
    expect(rec.reads() - before).toBe(2 * rec.count());
    const now = metricFamilies(rec.frozen());
    expect(json.map((m) => [m.name, m.type, m.help])).toEqual(now.map((f) => [f.name, f.type, f.help]));
    expect(json.map((m) => m.values)).toEqual(now.map((f) => f.samples.map(([labels, value]) => ({ labels, value }))));
    expect(json.find((m) => m.name === "wasm_sse_streams_opened_total")!.values.find((v) => v.labels.listener === "counter")!.value).toBe(counter.stats().opened);

    unregister();
    unregister();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    expect(await registry.metrics()).toBe("\n");
  });

  it("shares a registry with the app's metrics, and names the counters as OpenMetrics does", async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const requests = new Counter({ name: "app_requests_total", help: "Requests.", registers: [registry] });
    requests.inc(3);
    const rec = recording(sources);
    const unregister = registerPromClient(registry, rec.live);
    registry.resetMetrics(); // resets the app's counter; ours are snapshots
    const text = await registry.metrics();
    expect(text).toContain("# TYPE app_requests counter\napp_requests_total 0\n");
    const events = counter.stats().events;
    expect(text).toContain(`# TYPE wasm_sse_events counter\nwasm_sse_events_total{listener="feed"} 0\nwasm_sse_events_total{listener="counter"} ${events}\n`);
    expect(text).toContain(`# TYPE wasm_sse_buffered_bytes gauge\nwasm_sse_buffered_bytes{listener="feed"} `);
    unregister(); // by the names they were registered with, though the registry renamed the counters
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(["app_requests"]);
  });

  it("adds nothing when a name is taken", () => {
    const registry = new Registry();
    const app = new Gauge({ name: "wasm_sse_engines", help: "Someone else's.", registers: [registry] });
    expect(() => registerPromClient(registry, sources)).toThrow(/wasm_sse_engines has already been registered/);
    expect(registry.getMetricsAsArray()).toEqual([app]);
  });
});

/** A reader the test collects from. */
class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface Reported {
  name: string;
  type: string;
  unit: string;
  help: string;
  samples: MetricSample[];
}

/** Every metric of a collection with data points, as a family: counters are monotonic sums. */
function reported(resourceMetrics: ResourceMetrics): Reported[] {
  return resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((m) => m.dataPoints.length > 0)
    .map((m) => ({
      name: m.descriptor.name,
      type: m.dataPointType === DataPointType.SUM && m.isMonotonic ? "counter" : m.dataPointType === DataPointType.GAUGE ? "gauge" : "other",
      unit: m.descriptor.unit,
      help: m.descriptor.description,
      samples: (m.dataPoints as Array<{ attributes: Record<string, unknown>; value: number }>).map((p): MetricSample => [p.attributes as Record<string, string>, p.value]),
    }));
}

/** The families as OpenTelemetry names them: no _total. */
const asInstruments = (sources: MetricSources): Reported[] =>
  metricFamilies(sources).map(({ name, type, unit, help, samples }) => ({ name: name.replace(/_total$/, ""), type, unit, help, samples }));

describe("registerOpenTelemetry", () => {
  it("reports what the snapshots say through an SDK reader, one snapshot a collection, nothing after unregistering", async () => {
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const rec = recording(sources);
    const unregister = registerOpenTelemetry(provider.getMeter("wasm-sse"), rec.live);

    let before = rec.reads();
    const first = await reader.collect();
    expect(first.errors).toEqual([]);
    expect(rec.reads() - before).toBe(rec.count());
    const got = reported(first.resourceMetrics);
    expect(got).toEqual(asInstruments(rec.frozen()));
    expect(got.map((m) => m.name)).toContain("wasm_sse_broker_reader_lag_seconds");
    const sample = (name: string, label: string) => got.find((m) => m.name === name)!.samples.find(([l]) => Object.values(l).includes(label))![1];
    expect(sample("wasm_sse_events", "counter")).toBe(counter.stats().events);
    expect(sample("wasm_sse_channel_events", "news")).toBe(3);
    expect(got.find((m) => m.name === "wasm_sse_written_bytes")!.unit).toBe("By");

    // Read at collection: what happened since is in the next one.
    news.send({ n: 3 });
    before = rec.reads();
    const second = await reader.collect();
    expect(rec.reads() - before).toBe(rec.count());
    const again = reported(second.resourceMetrics);
    expect(again).toEqual(asInstruments(rec.frozen()));
    expect(again.find((m) => m.name === "wasm_sse_channel_events")!.samples.find(([l]) => l.channel === "news")![1]).toBe(4);

    // A cumulative reader goes on exporting the last values (the SDK keeps them; a Meter cannot
    // delete an instrument), but nothing is read any more.
    unregister();
    before = rec.reads();
    const after = await reader.collect();
    expect(rec.reads()).toBe(before);
    expect(reported(after.resourceMetrics)).toEqual(again);
    await provider.shutdown();
  });

  it("reports nothing after unregistering, with delta temporality", async () => {
    const reader = new Reader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
    const provider = new MeterProvider({ readers: [reader] });
    const unregister = registerOpenTelemetry(provider.getMeter("wasm-sse"), sources);
    expect(reported((await reader.collect()).resourceMetrics).length).toBe(27);
    unregister();
    expect(reported((await reader.collect()).resourceMetrics)).toEqual([]);
    await provider.shutdown();
  });
});

describe("host/metrics/index.ts", () => {
  it("loads neither prom-client nor @opentelemetry/api: it runs where they are not installed", () => {
    // host/ and bindings/ copied where no node_modules is above them, run through tsx.
    const dir = mkdtempSync(join(tmpdir(), "wasm-sse-metrics-"));
    try {
      for (const sub of ["host", "bindings"]) cpSync(join(ROOT, sub), join(dir, sub), { recursive: true });
      writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm")).href;
      const run = (code: string) => spawnSync(process.execPath, ["--import", tsx, "--input-type=module", "-e", code], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      const ok = run(`const m = await import("./host/metrics/index.ts"); console.log(Object.keys(m).sort().join(","));`);
      expect(ok.stderr).toBe("");
      expect(ok.stdout.trim()).toBe("registerOpenTelemetry,registerPromClient");
      // The same setup fails on either package: the check above would have seen one.
      for (const pkg of ["prom-client", "@opentelemetry/api"]) expect(run(`await import("${pkg}");`).stderr).toContain("ERR_MODULE_NOT_FOUND");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
