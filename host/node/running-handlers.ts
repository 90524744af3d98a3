// The handlers of one withSse that have not finished (their stream's run: the handler settled
// and the response ended). A promise of a handler's end is made only when close() asks for it;
// an idle stream costs one set entry here.
import type { NodeStream } from "./stream.js";

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

export class RunningHandlers {
  private readonly streams = new Set<NodeStream>();
  /** The ends someone waits for. */
  private readonly awaited = new Map<NodeStream, Deferred>();

  add(stream: NodeStream): void {
    this.streams.add(stream);
  }

  /** The stream's run is over. */
  done(stream: NodeStream): void {
    this.streams.delete(stream);
    const deferred = this.awaited.get(stream);
    if (deferred === undefined) return;
    this.awaited.delete(stream);
    deferred.resolve();
  }

  /** Every running stream with a promise of its run's end. */
  withEnds(): Map<NodeStream, Promise<void>> {
    const ends = new Map<NodeStream, Promise<void>>();
    for (const stream of this.streams) {
      let deferred = this.awaited.get(stream);
      if (deferred === undefined) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        deferred = { promise, resolve };
        this.awaited.set(stream, deferred);
      }
      ends.set(stream, deferred.promise);
    }
    return ends;
  }
}
