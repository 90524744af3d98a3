// wasm-sse/redis: channels shared across processes through Redis Streams. Loads the `redis`
// package (an optional peer dependency) when a channel connects.
export { SharedChannel } from "./shared-channel.js";
export type { SharedChannelOptions, SharedChannelStats } from "./shared-channel.js";
export { BrokerError } from "./broker-error.js";
