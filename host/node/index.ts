// The Node host's public API.
export * from "../common/index.js";
export { withSse } from "./with-sse.js";
export type { SseHandler, SseListener, RequestLike, AnyResponse } from "./with-sse.js";
export type { WithSseOptions } from "./options.js";
export type { CloseOptions, CloseReport } from "./shutdown.js";
export { fastifySse } from "./fastify.js";
export type { FastifySseRoute, FastifyRequestLike, FastifyReplyLike } from "./fastify.js";
