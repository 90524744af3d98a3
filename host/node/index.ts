// The Node host's public API.
export { withSse } from "./with-sse.js";
export type { SseHandler, SseListener, RequestLike, AnyResponse } from "./with-sse.js";
export type { Sse } from "./sse.js";
export type { WithSseOptions } from "./options.js";
export type { CorsOption, CorsOptions, CorsOrigin } from "./cors.js";
export type { CloseOptions, CloseReport } from "./shutdown.js";
export { Channel } from "./channel.js";
export type { ChannelFilter, ChannelOptions, UnknownIdPolicy } from "./channel.js";
export { CancelledError } from "./cancelled-error.js";
