// The fetch-style host: an event stream as a Response.
export { sseResponse } from "./response.js";
export type { WebSse, SseResponseOptions } from "./response.js";
