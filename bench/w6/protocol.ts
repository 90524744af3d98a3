// W6's messages between the runner (bench/w6.ts), its server processes (server.ts) and its
// client process (client.ts), over the IPC channel.

/** in-process: one process, the local Channel; shared: two processes, one SharedChannel on a Redis stream; naive: two node:http processes on Redis pub/sub. */
export type W6Variant = "in-process" | "shared" | "naive";
export const W6_VARIANTS: readonly W6Variant[] = ["in-process", "shared", "naive"];

/** Runner → server. Only the publishing server (the first) gets pace and burst. */
export type W6ServerCommand =
  | { type: "subscribers" }
  /** Events from..from+count-1, event k due at start + k/rate s; each carries the time it was sent. */
  | { type: "pace"; from: number; count: number; rate: number }
  /** Events from..from+count-1 as fast as they go, `burst` per turn of the event loop. */
  | { type: "burst"; from: number; count: number; burst: number }
  /** Redis commands this process has issued so far. */
  | { type: "commands" };

/** Server → runner. */
export type W6ServerReply =
  | { type: "listening"; port: number }
  | { type: "subscribers"; count: number }
  /** lag (paced only): the publisher's lateness, when each event was sent minus when it was due, in µs. */
  | { type: "published"; events: number; lag?: { p50: number; p99: number; max: number } }
  | { type: "commands"; commands: number }
  | { type: "error"; message: string };

/** Runner → client. */
export type W6ClientCommand =
  /** `conns` subscriber streams to the server on `port`; their deliveries count in `group` (0: the publisher's process). */
  | { type: "open"; port: number; conns: number; group: number }
  /** Count events from..to-1 (earlier ones are checked, not counted); "expecting" at once, "counted" when every stream has event to-1. */
  | { type: "expect"; from: number; to: number }
  /** Where the streams are: for a deadline's message. */
  | { type: "status" }
  | { type: "close" };

/** Publish-to-delivery latency of one group's counted deliveries, in µs. */
export interface Latency {
  deliveries: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Client → runner. */
export type W6ClientReply =
  | { type: "opened"; conns: number }
  | { type: "expecting" }
  /** groups[g]: group g's counted deliveries; all: every group's together. failures (since the streams opened): streams that skipped, repeated or reordered an event. */
  | { type: "counted"; groups: Latency[]; all: Latency; failures: string[] }
  /** Per group: streams, the lowest and highest next index due, streams the server ended. */
  | { type: "status"; groups: { streams: number; lowestNext: number; highestNext: number; ended: number }[]; failures: string[] }
  | { type: "closed" }
  | { type: "error"; message: string };
