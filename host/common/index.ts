// What every host shares in its public API.
export { Channel } from "./channel.js";
export type { ChannelFilter, ChannelOptions, UnknownIdPolicy } from "./channel.js";
export { CancelledError } from "./cancelled-error.js";
export { initCore } from "./core-module.js";
export type { CorsOption, CorsOptions, CorsOrigin } from "./cors.js";
export type { Sse } from "./sse.js";
