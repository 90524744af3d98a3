// Coalesces socket writes: a stream that produced bytes is flushed once, after every callback
// and microtask of the current turn of the event loop, so all frames of a turn go out in one
// write. Marks made during a flush land in the next turn's batch.

export interface Flushable {
  flush(): void;
}

let dirty = new Set<Flushable>();

export function scheduleFlush(stream: Flushable): void {
  if (dirty.size === 0) setImmediate(flushAll);
  dirty.add(stream);
}

function flushAll(): void {
  const batch = dirty;
  dirty = new Set();
  for (const stream of batch) stream.flush();
}
