// Stats snapshots in the Prometheus text exposition format (0.0.4), with no dependency: serve
// prometheusText(…) with PROMETHEUS_CONTENT_TYPE at a /metrics route. Names follow Prometheus'
// conventions (a wasm_sse_ prefix, base units in the name, _total on counters); the only label
// values are the names you give your listeners and channels, and fixed sets (cause, status,
// answer), so no label grows without bound. metricFamilies is the table itself, which the
// prom-client and OpenTelemetry adapters (host/metrics) read too.
import type { ChannelStats } from "./channel.js";
import { END_CAUSES, REFUSALS, type StreamStats } from "./stream-stats.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What a SharedChannel adds (host/redis), as far as the exposition reads it. */
interface BrokerStats {
  broker?: { connected: boolean; commands: number; reads: number; failedSends: number; recoveries: number; gaps: number; readerLagMs: number };
}

export interface MetricSources {
  /** withSse listeners (label `listener`), or sseStats for sseResponse's streams. */
  streams?: Record<string, { stats(): StreamStats } | (() => StreamStats)>;
  /** Channels and SharedChannels (label `channel`). */
  channels?: Record<string, { stats(): ChannelStats & BrokerStats }>;
}

/** One sample: its labels (in exposition order) and its value. */
export type MetricSample = [labels: Record<string, string>, value: number];

/** One metric: what prometheusText prints and the prom-client and OpenTelemetry adapters register. */
export interface MetricFamily {
  name: string;
  type: "counter" | "gauge";
  /** The UCUM unit OpenTelemetry takes ("By", "s", an annotation such as "{stream}", or "" for none); Prometheus has it in the name. */
  unit: string;
  help: string;
  samples: MetricSample[];
}

/**
 * Every metric of every source, read now (one synchronous snapshot each), in exposition order:
 * the streams' families if there are streams, the channels' if there are channels, the broker's
 * if a channel is a SharedChannel. The one table of what is exposed: names, types, units, help
 * and labels.
 */
export function metricFamilies(sources: MetricSources): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const add = (name: string, type: MetricFamily["type"], unit: string, help: string, labels: Record<string, string>, value: number): void => {
    let family = families.get(name);
    if (family === undefined) families.set(name, (family = { name, type, unit, help, samples: [] }));
    family.samples.push([labels, value]);
  };
  for (const [listener, source] of Object.entries(sources.streams ?? {})) {
    const s = "stats" in source ? source.stats() : source(); // a withSse listener is a function too: its stats() first
    const l = { listener };
    add("wasm_sse_streams_open", "gauge", "{stream}", "Event streams open now.", l, s.open);
    add("wasm_sse_streams_opened_total", "counter", "{stream}", "Event streams opened.", l, s.opened);
    for (const cause of END_CAUSES) add("wasm_sse_streams_ended_total", "counter", "{stream}", "Event streams ended, by cause.", { ...l, cause }, s.ended[cause]);
    add("wasm_sse_events_total", "counter", "{event}", "Events the handlers' sends framed.", l, s.events);
    add("wasm_sse_comments_total", "counter", "{comment}", "Comments the handlers sent.", l, s.comments);
    add("wasm_sse_keepalives_total", "counter", "{comment}", "Keep-alive comments sent to idle streams.", l, s.keepAlives);
    add("wasm_sse_written_bytes_total", "counter", "By", "Bytes written to clients.", l, s.bytesWritten);
    add("wasm_sse_buffered_bytes", "gauge", "By", "Bytes the open streams hold for their clients now.", l, s.bytesBuffered);
    add("wasm_sse_stream_buffered_peak_bytes", "gauge", "By", "The most bytes one stream held for its client at a flush.", l, s.bytesBufferedPeak);
    for (const status of REFUSALS) add("wasm_sse_requests_refused_total", "counter", "{request}", "Requests answered without a stream, by status.", { ...l, status: String(status) }, s.refused[status]);
    add("wasm_sse_engines", "gauge", "{engine}", "Core instances (WebAssembly engines) in use.", l, s.engines);
    add("wasm_sse_slots_in_use", "gauge", "{slot}", "Core connection slots in use.", l, s.slotsInUse);
  }
  for (const [channel, source] of Object.entries(sources.channels ?? {})) {
    const s = source.stats();
    const l = { channel };
    add("wasm_sse_channel_subscribers", "gauge", "{subscriber}", "Streams subscribed to the channel now.", l, s.subscribers);
    add("wasm_sse_channel_events_total", "counter", "{event}", "Events the channel framed (sent, or read from its Redis stream).", l, s.events);
    add("wasm_sse_channel_framed_bytes_total", "counter", "By", "Bytes of the events the channel framed.", l, s.bytesFramed);
    add("wasm_sse_channel_deliveries_total", "counter", "{frame}", "Event frames queued for subscribers, live and replayed.", l, s.deliveries);
    add("wasm_sse_channel_resumes_total", "counter", "{subscriber}", "Subscribers resumed after their Last-Event-ID.", l, s.resumes);
    add("wasm_sse_channel_replayed_events_total", "counter", "{event}", "Events replayed to resuming subscribers.", l, s.replayedEvents);
    for (const answer of ["reset", "all"] as const) {
      add("wasm_sse_channel_unknown_ids_total", "counter", "{subscriber}", "Subscribers whose Last-Event-ID could not be resumed, by the answer they got.", { ...l, answer }, s.unknownIds[answer]);
    }
    add("wasm_sse_channel_history_events", "gauge", "{event}", "Events in the channel's history now.", l, s.historySize);
    const b = s.broker;
    if (b === undefined) continue;
    add("wasm_sse_broker_up", "gauge", "", "Whether the channel's last call to Redis succeeded.", l, b.connected ? 1 : 0);
    add("wasm_sse_broker_commands_total", "counter", "{command}", "Redis commands the channel sent.", l, b.commands);
    add("wasm_sse_broker_reads_total", "counter", "{call}", "XREAD calls that returned.", l, b.reads);
    add("wasm_sse_broker_failed_sends_total", "counter", "{command}", "Sends Redis refused or did not answer.", l, b.failedSends);
    add("wasm_sse_broker_recoveries_total", "counter", "{recovery}", "Times the reader came back after Redis failed.", l, b.recoveries);
    add("wasm_sse_broker_gaps_total", "counter", "{gap}", "Times the reader found events lost or trimmed past it.", l, b.gaps);
    add("wasm_sse_broker_reader_lag_seconds", "gauge", "s", "How old the newest event was when the reader read it.", l, b.readerLagMs / 1000);
  }
  return [...families.values()];
}

/** Every metric of every source, read now: one synchronous snapshot each. */
export function prometheusText(sources: MetricSources): string {
  let text = "";
  for (const f of metricFamilies(sources)) {
    text += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    for (const [labels, value] of f.samples) text += `${f.name}{${Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",")}} ${value}\n`;
  }
  return text;
}

/** A label value: backslash, double quote and line feed escaped, as the format asks. */
function escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
