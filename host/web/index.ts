// The fetch-style host: an event stream as a Response. Nothing reachable from here imports a
// `node:` module (test/web-entry.test.ts).
export * from "../common/index.js";
export { sseResponse, sseStats } from "./response.js";
export type { WebSse, SseResponseOptions } from "./response.js";
