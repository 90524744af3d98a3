// The sleeps of one stream's handler: each resolves after its ms, or rejects at once with the
// reason when the stream is cancelled. A timer and a set entry per sleep, and no AbortSignal:
// a stream whose handler never reads `sse.signal` never pays for one.

interface Pending {
  readonly timer: NodeJS.Timeout;
  readonly reject: (reason: unknown) => void;
}

export class Sleeps {
  private readonly pending = new Set<Pending>();

  sleep(ms: number): Promise<void> {
    if (!(ms >= 0)) return Promise.reject(new RangeError(`sleep(ms) needs a non-negative number, got ${String(ms)}`));
    return new Promise((resolve, reject) => {
      const p: Pending = {
        reject,
        timer: setTimeout(() => {
          this.pending.delete(p);
          resolve();
        }, ms),
      };
      this.pending.add(p);
    });
  }

  /** Rejects every pending sleep with `reason` now. */
  cancel(reason: unknown): void {
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
  }
}
