// W7's messages between the runner (bench/w7.ts), its server process (server.ts) and its
// client process (client.ts), over the IPC channel.

export type W7Peer = "wasm-sse" | "better-sse" | "naive";
export const W7_PEERS: readonly W7Peer[] = ["wasm-sse", "better-sse", "naive"];

/** Whether a peer replays what a reconnecting client missed after its Last-Event-ID; the others reconnect it plainly. */
export const REPLAYS: Record<W7Peer, boolean> = { "wasm-sse": true, "better-sse": false, naive: false };

/** Runner → server. */
export type W7ServerCommand =
  | { type: "subscribers" }
  /** Events with ids from..to, every one to every subscriber, in one turn of the event loop. */
  | { type: "send"; from: number; to: number }
  /** Destroys every connection at once; "cut" once each is closed and no subscriber is left. */
  | { type: "cut" };

/** Server → runner. */
export type W7ServerReply =
  | { type: "listening"; port: number }
  | { type: "subscribers"; count: number }
  | { type: "sent" }
  | { type: "cut"; connections: number }
  | { type: "error"; message: string };

/** Runner → client. */
export type W7ClientCommand =
  /** `clients` subscriptions without a Last-Event-ID; "opened" once each has its response head. */
  | { type: "open"; port: number; clients: number }
  /** "expecting" at once; "received" once every client with an open stream has event `id`, or at the deadline. */
  | { type: "expect"; id: number; deadlineMs: number }
  /**
   * Every client, once its connection is gone, reconnects at a uniformly random moment within
   * spreadMs, with its Last-Event-ID; its next event must be `resumeAt`, and it has caught up
   * when `liveId` is due. "settled" once each has its response head or failed, or at the deadline.
   */
  | { type: "reconnect"; spreadMs: number; deadlineMs: number; resumeAt: number; liveId: number }
  | { type: "close" };

/** How the reconnects went: response heads with 200, 503s, other statuses, connections that failed before a head, and those still waiting at the deadline. */
export interface Settled {
  ok: number;
  refused: number;
  otherStatus: number;
  connectErrors: number;
  pending: number;
}

/** Reconnect → caught up (its response head, and every missed event it is due), per client, in ms. */
export interface CaughtUp {
  clients: number;
  p50: number;
  p99: number;
  max: number;
}

/** Client → runner. */
export type W7ClientReply =
  | { type: "opened" }
  | { type: "expecting" }
  /**
   * at: CLOCK_MONOTONIC µs when the last waiting client got the event; missing: clients without
   * it at the deadline; dropped: clients whose reconnected stream the server ended; failures:
   * events out of order, repeated, missing or with the wrong data, since the clients opened.
   */
  | { type: "received"; at: number; missing: number; dropped: number; caughtUp: CaughtUp; failures: string[] }
  | { type: "settled"; settled: Settled }
  | { type: "closed" }
  | { type: "error"; message: string };
