// Broadcast: an event is framed once, in a core connection that is only the channel's frame
// buffer (never attached to a socket), and the same bytes go to every subscriber. A
// subscriber that cannot keep up is disconnected by its own stream (maxBufferedBytes); the
// channel never waits for anyone.
import { Engine, type SendOptions } from "../../bindings/index.js";
import { CancelledError } from "./cancelled-error.js";
import { SseStream, type Sse } from "./sse.js";
import { sseInstance } from "./wasm.js";

/** Decides whether one subscriber gets an event; it sees what send() was given. */
export type ChannelFilter = (data: unknown, options: SendOptions) => boolean;

export interface ChannelOptions {
  /** The largest event frame (default 64 KiB). */
  maxEventBytes?: number;
}

export class Channel {
  private readonly engine: Engine;
  private readonly conn: number;
  private readonly subscribers = new Map<SseStream, ChannelFilter | undefined>();

  constructor(options: ChannelOptions = {}) {
    this.engine = new Engine(sseInstance(), { maxConnections: 1, outBytes: options.maxEventBytes ?? 64 * 1024 });
    this.conn = this.engine.open();
  }

  /** Subscribers now. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Adds a stream (again: replaces its filter); it leaves when it closes, or when the
   * returned function is called. A stream that is already closed throws CancelledError.
   */
  subscribe(sse: Sse, options: { filter?: ChannelFilter } = {}): () => void {
    if (!(sse instanceof SseStream)) throw new TypeError("Channel.subscribe takes the sse object withSse gave a handler");
    if (!sse.isOpen) throw new CancelledError("the stream is closed");
    const isNew = !this.subscribers.has(sse);
    this.subscribers.set(sse, options.filter);
    const unsubscribe = () => void this.subscribers.delete(sse);
    if (isNew) void sse.closed.then(unsubscribe);
    return unsubscribe;
  }

  /**
   * Frames the event once and queues it for every subscriber whose filter accepts it;
   * returns how many. Bad input throws the engine's typed error and sends nothing. A filter
   * that throws skips its subscriber; the first such error is thrown after the others got
   * the event.
   */
  send(data: unknown, options: SendOptions | string = {}): number {
    const o = typeof options === "string" ? { event: options } : options;
    this.engine.send(this.conn, data, o);
    const frame = this.engine.drain(this.conn);
    let delivered = 0;
    let filterError: { error: unknown } | undefined;
    for (const [stream, filter] of this.subscribers) {
      try {
        if (filter !== undefined && !filter(data, o)) continue;
      } catch (error) {
        filterError ??= { error };
        continue;
      }
      stream.deliver(frame);
      delivered++;
    }
    if (filterError !== undefined) throw filterError.error;
    return delivered;
  }
}
