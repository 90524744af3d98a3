// setTimeout for any delay. Timers fire a delay above 2^31 - 1 ms after 1 ms instead (Node warns
// TimeoutOverflowWarning), so a longer wait is chained from timers of at most that, and an
// infinite one sets no timer at all.

/** The longest delay setTimeout honours. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export class LongTimer {
  private handle: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, private readonly fire: () => void) {
    this.arm(ms);
  }

  clear(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(ms: number): void {
    if (ms === Infinity) return;
    const step = Math.min(ms, MAX_DELAY_MS);
    this.handle = setTimeout(() => (step === ms ? this.fire() : this.arm(ms - step)), step);
  }
}
