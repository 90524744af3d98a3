// Coalesces socket writes: a stream that produced bytes is flushed once, after every callback
// and microtask of the current turn of the event loop, so all frames of a turn go out in one
// write. Marks made during a flush land in the next turn's batch.
import { afterTurn } from "./turn.js";

export interface Flushable {
  /** Set while the flushable is in the next batch: marking it again costs a field read, not a Set lookup. */
  flushScheduled: boolean;
  flush(): void;
}

let dirty: Flushable[] = [];

export function scheduleFlush(target: Flushable): void {
  if (target.flushScheduled) return;
  target.flushScheduled = true;
  if (dirty.length === 0) afterTurn(flushAll);
  dirty.push(target);
}

function flushAll(): void {
  const batch = dirty;
  dirty = [];
  for (const target of batch) {
    target.flushScheduled = false; // before flush(), so a mark made during it queues it again
    // One flush that throws (a bug: nothing here should) must not leave the rest of the batch
    // marked but never flushed again; it is logged, as a timer's exception would be.
    try {
      target.flush();
    } catch (error) {
      console.error("wasm-sse: a stream's flush failed (the others in its turn were flushed):", error);
    }
  }
}
