// The messages the runner exchanges with its child processes over the IPC channel.
import type { Verdict } from "./client/verify.js";

/** Runner → peer server. */
export type PeerCommand =
  | { type: "broadcast"; n: number; burst: number }
  | { type: "subscribers" }
  | { type: "gc" };

/** Peer server → runner. */
export type PeerReply =
  | { type: "listening"; port: number }
  | { type: "broadcast-done" }
  | { type: "subscribers"; count: number }
  /** After a full GC: the process's own view of its memory, in bytes. */
  | { type: "gc-done"; heapUsed: number; external: number };

/**
 * Connections the client opens at a time, each until its response head: well within the peers'
 * listen backlog (4096), so no SYN is dropped (the client would retry it only a second later),
 * and W3's connects/s is how fast the server answers.
 */
export const OPENING_AT_ONCE = 500;

/** Runner → client. */
export type ClientCommand =
  /** W1: one connection to /stream?n=N, counted to n events (and checked by eventsource-parser if `verify`). */
  | { type: "stream"; port: number; n: number; verify: boolean }
  /** W2, W3: `conns` connections to /subscribe, OPENING_AT_ONCE at a time, each counted to n events (n = 0: held idle). */
  | { type: "open"; port: number; conns: number; n: number; verifyFirst: boolean }
  | { type: "close" };

/** Client → runner. */
export type ClientReply =
  | { type: "streamed"; events: number; bytes: number; verdict?: Verdict }
  /** seconds: from the first connect to the last response head. */
  | { type: "opened"; conns: number; seconds: number }
  | { type: "counted"; events: number; bytes: number; verdict?: Verdict }
  | { type: "closed" }
  | { type: "error"; message: string };
