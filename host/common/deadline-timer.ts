// One timer for the earliest of many deadlines (keep-alives, stall windows), fired a little
// late (slack) so deadlines that fall close together are served by one wake-up instead of one
// each. Unref'd: these never keep a process alive.
//
// A timer can be lost: workerd drops the timers of a request once that request is over, and
// this one is armed from whichever request's code came first. So a caller that runs from a live
// request may revive() it: fired there if it is a slack overdue.
import { MAX_DELAY_MS } from "./long-timer.js";

export class DeadlineTimer {
  private readonly slackMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  /** `now` is the clock deadlines are on; `fire` runs at the deadline plus slack, a tenth of `intervalMs` (the keep-alive or stall limit), at most 1 s. */
  constructor(intervalMs: number, private readonly now: () => number, private readonly fire: () => void) {
    this.slackMs = Math.min(1000, intervalMs / 10);
  }

  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Fires at `deadline` plus slack, unless a firing no later is already set; Infinity sets none. */
  at(deadline: number): void {
    if (deadline === Infinity) return;
    const at = deadline + this.slackMs;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clear();
    this.timerAt = at;
    // Clamped: a longer delay would fire at once; firing early finds nothing due and re-arms.
    const timer = setTimeout(() => {
      if (this.timer !== timer) return; // revived meanwhile
      this.timer = undefined;
      this.timerAt = Infinity;
      this.fire();
    }, Math.min(MAX_DELAY_MS, Math.max(0, at - this.now())));
    this.timer = timer;
    (timer as unknown as { unref?(): void }).unref?.(); // Node's and Bun's timers; a number elsewhere
  }

  /** Fires now if the timer is a slack overdue (lost with the request that armed it); its firing, if it comes, then does nothing. */
  revive(): void {
    if (this.timer === undefined || this.now() < this.timerAt + this.slackMs) return;
    this.clear();
    this.fire();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
