// wasm-sse/metrics: the metrics prometheusText serves, in a prom-client Registry or on an
// OpenTelemetry Meter. Neither library is imported: the app passes its registry or meter.
export { registerPromClient } from "./prom-client.js";
export type { PromClientRegistry } from "./prom-client.js";
export { registerOpenTelemetry } from "./otel.js";
export type { OpenTelemetryBatchResult, OpenTelemetryMeter } from "./otel.js";
export type { MetricSources } from "../common/prometheus.js";
