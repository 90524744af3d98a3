// The WASI host: the core's command module (build/sse-wasi.wasm) under node:wasi.
export { runSseWasi } from "./run.js";
export type { SseWasiOptions } from "./run.js";
