// What every host shares in its public API.
export { Channel } from "./channel.js";
export type { ChannelFilter, ChannelOptions, ChannelStats, UnknownIdPolicy } from "./channel.js";
export type { EndCause, StreamStats } from "./stream-stats.js";
export { CancelledError } from "./cancelled-error.js";
export { initCore } from "./core-module.js";
export type { CorsOption, CorsOptions, CorsOrigin } from "./cors.js";
export type { Sse } from "./sse.js";
export { prometheusText, PROMETHEUS_CONTENT_TYPE } from "./prometheus.js";
export type { MetricSources } from "./prometheus.js";
