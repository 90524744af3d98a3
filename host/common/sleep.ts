// The sleeps of one stream's handler: each resolves after its ms, or rejects at once with the
// reason when the stream is cancelled. A timer and a set entry per sleep, and no AbortSignal:
// a stream whose handler never reads `sse.signal` never pays for one. Any ms is honoured:
// sleep(Infinity) waits until the stream is cancelled.
import { LongTimer } from "./long-timer.js";

interface Pending {
  readonly timer: LongTimer;
  readonly reject: (reason: unknown) => void;
}

export class Sleeps {
  private readonly pending = new Set<Pending>();

  sleep(ms: number): Promise<void> {
    if (!(ms >= 0)) return Promise.reject(new RangeError(`sleep(ms) needs a non-negative number, got ${String(ms)}`));
    return new Promise((resolve, reject) => {
      const p: Pending = {
        reject,
        timer: new LongTimer(ms, () => {
          this.pending.delete(p);
          resolve();
        }),
      };
      this.pending.add(p);
    });
  }

  /** Rejects every pending sleep with `reason` now. */
  cancel(reason: unknown): void {
    for (const p of this.pending) {
      p.timer.clear();
      p.reject(reason);
    }
    this.pending.clear();
  }
}
