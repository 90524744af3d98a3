// Clients that do not keep up. Two bounds, for both hosts:
// - The stall limit: a client that takes no bytes for stallTimeoutMs while bytes wait for it is
//   cut (StallWatch).
// - Sends that wait for room hold their event, serialised at the call, and a promise:
//   waitingCost() is what each counts towards the stream's bound on what it holds for its client.
//
// Nothing is timed per send: a stream joins the watch only when it becomes blocked
// (Node's buffer full, a body its reader does not pull) and leaves when that ends, and one
// timer per timeout value, shared by every stream with that limit, looks at the blocked ones
// when the oldest window ends. A stream that moved any bytes since the last look starts a new
// window; one that moved none for a whole window is cut, so a slow but steady reader never is.
import { DeadlineTimer } from "./deadline-timer.js";

/** The default stall limit of both hosts: nginx's send_timeout (README "Limits and defaults" says why). */
export const STALL_TIMEOUT_MS = 60_000;

/** Two figures a stream reads from its output (what it picks): with nothing new written, they change only when its client takes bytes. */
export interface Progress {
  a: number;
  b: number;
}

export interface Stallable {
  /** Reads the figures into `mark`; whether they differ from those it held. */
  advanced(mark: Progress): boolean;
  /** Its client took no bytes for a whole window: cut it. */
  stalled(): void;
}

interface Window extends Progress {
  since: number;
}

export class StallWatch {
  private readonly blocked = new Map<Stallable, Window>();
  private readonly timer: DeadlineTimer;

  constructor(private readonly timeoutMs: number) {
    this.timer = new DeadlineTimer(timeoutMs, () => performance.now(), () => this.look());
  }

  /** `stream` has bytes its client is not taking: its window starts now (unless it is already watched). */
  block(stream: Stallable): void {
    if (this.blocked.has(stream)) return;
    const window: Window = { since: performance.now(), a: 0, b: 0 };
    stream.advanced(window);
    this.blocked.set(stream, window);
    this.timer.at(window.since + this.timeoutMs);
  }

  /** Looks now if the timer was lost with the request that armed it (see DeadlineTimer.revive). */
  revive(): void {
    this.timer.revive();
  }

  /** Its client took what was pending (or it is gone). The timer stays: it fires once more and finds nothing, cheaper than clearing it at every drain. */
  unblock(stream: Stallable): void {
    this.blocked.delete(stream);
  }

  private look(): void {
    const now = performance.now();
    let next = Infinity;
    for (const [stream, window] of this.blocked) {
      if (stream.advanced(window)) window.since = now;
      else if (now - window.since >= this.timeoutMs) {
        this.blocked.delete(stream);
        stream.stalled();
        continue;
      }
      next = Math.min(next, window.since + this.timeoutMs);
    }
    this.timer.at(next);
  }
}

const watches = new Map<number, StallWatch>();

/** The watch shared by every stream whose limit is `timeoutMs`; none for 0 (the limit is off). */
export function stallWatch(timeoutMs: number): StallWatch | undefined {
  if (timeoutMs === 0) return undefined;
  let watch = watches.get(timeoutMs);
  if (watch === undefined) watches.set(timeoutMs, (watch = new StallWatch(timeoutMs)));
  return watch;
}

/** What a waiting send of `bytes` (its event as serialised at the call, or a comment's text) counts towards its stream's bound. */
export function waitingCost(bytes: number): number {
  return WAIT_COST + bytes;
}

/** Bytes a waiting send costs beyond its event: its promise, resolvers and closure (about 550 measured in V8). */
const WAIT_COST = 512;
