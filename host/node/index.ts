// The Node host's public API.
export * from "../common/index.js";
export { withSse } from "./with-sse.js";
export type { SseHandler, SseListener, RequestLike, AnyResponse } from "./with-sse.js";
export type { WithSseOptions } from "./options.js";
export type { CloseOptions, CloseReport } from "./shutdown.js";
