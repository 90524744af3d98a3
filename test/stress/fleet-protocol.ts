// What the test process and its client process (fleet.ts) say to each other over IPC.
import type { ReadMode } from "./sse-client.js";
import type { StormPlan, StormResult } from "./storm-client.js";

export type Command =
  | { cmd: "open"; port: number; count: number; mode: ReadMode; path: string; concurrency: number }
  | { cmd: "wait"; mode: ReadMode; events?: number; lastId?: number; closed?: boolean; timeoutMs: number }
  | { cmd: "summary"; mode: ReadMode }
  | { cmd: "readAll"; mode: ReadMode }
  | { cmd: "destroy" }
  /** Every client of the mode, each after its stream closed, reconnects with Last-Event-ID at a random moment within `withinMs`. */
  | { cmd: "reconnect"; mode: ReadMode; withinMs: number; seed: number }
  | { cmd: "storm"; port: number; plan: StormPlan };

export interface Summary {
  clients: number;
  ok: number;
  closed: number;
  ended: number;
  malformed: number;
  bytes: number;
  events: { total: number; min: number; max: number };
  comments: { total: number; min: number; max: number };
  lastId: { min: number; max: number };
  disorder: number;
  reconnects: { min: number; max: number };
}

export type Reply = Summary | StormResult | { opened: number } | { destroyed: number } | { reconnected: number };

export interface Request {
  seq: number;
  command: Command;
}

export interface Response {
  seq: number;
  result?: Reply;
  error?: string;
}

/** Client sockets spread over 127.0.0.2…9, so thousands of cycles never exhaust ephemeral ports. */
export const localAddress = (i: number) => `127.0.0.${2 + (i % 8)}`;
