// Broadcast: an event is framed once, in a core connection that is only the channel's frame
// buffer (never attached to a socket), and the same bytes go to every subscriber. A
// subscriber that cannot keep up is disconnected by its own stream (maxBufferedBytes); the
// channel never waits for anyone.
//
// Replay: with a history, the core records every frame the channel sends under its id (the
// sender's, or one the channel assigns: a random prefix per channel plus a counter, so ids
// from an earlier run of the server never match). subscribe() delivers what the stream's
// client missed after its Last-Event-ID and joins it to the live subscribers in one
// synchronous step, so no event can fall between the two or arrive twice.
//
// Coalescing: the frames sent in one turn of the event loop form a Batch; each subscriber
// queues its run of them as one Segment, and the batch is joined once for all of them.
//
// A trap in the channel's core (WebAssembly.RuntimeError) is thrown from the call that met
// it; the channel goes on with a fresh core and an empty history.
import { Engine, type SendOptions } from "../../bindings/index.js";
import { sendOptions } from "../../bindings/send-options.js";
import { Batch } from "./broadcast-batch.js";
import { CancelledError } from "./cancelled-error.js";
import { checkRange } from "./check-range.js";
import { coreInstance } from "./core-module.js";
import { EventLog } from "./event-log.js";
import { scheduleFlush, type Flushable } from "./flush-queue.js";
import { own } from "./own.js";
import { streamOf, type Sse } from "./sse.js";
import type { EndListener } from "./stream.js";

/** What a channel needs of a subscribed stream (SseStream, whichever its output). */
export interface Subscriber {
  readonly isOpen: boolean;
  readonly lastEventId: string | undefined;
  /** A replay must fit what the stream may hold for its client. */
  readonly maxBufferedBytes: number;
  /** A frame for this subscriber alone (a retry, a replayed event, a reset); false if it did not fit (the stream was cut). */
  deliver(frame: Uint8Array): boolean;
  /** Frame `index` of this turn's batch, shared by every subscriber; false if it did not fit (the stream was cut). */
  share(batch: Batch, index: number, length: number): boolean;
  onEnd(listener: EndListener): void;
  /** Ends the stream after `last` (a frame), its handler cancelled (a shared channel's Redis unreachable). */
  shutdown(last: Uint8Array | undefined, cause: "broker_unavailable"): void;
}

/**
 * What a shared channel (host/redis) drives in the local channel it fans out through: the
 * steps of subscribe() and send() apart, so it can put a read from its log in between. Not
 * public API (no entry exports it).
 */
export interface LocalFeed {
  /** The stream behind a handle, checked as subscribe() checks it. */
  subscriber(handle: Sse): Subscriber;
  /** subscribe()'s join; with `catchUp` false the caller delivered what the stream missed. */
  join(stream: Subscriber, filter: ChannelFilter | undefined, catchUp: boolean): () => void;
  /** send() for an event the log accepted: framed from `frameData`, filters (and the history's) see `data`. */
  broadcast(frameData: unknown, data: unknown, options: SendOptions): number;
  /** The frame of one event for one subscriber, not recorded (a replay read from the log). */
  frame(data: unknown, options: SendOptions): Uint8Array;
  /** The `retry` option's frame, if any. */
  readonly retryFrame: Uint8Array | undefined;
  /** The `unknownId` answer for a client whose Last-Event-ID cannot be resumed, a reset naming `newestId`; returns a filter's first error. */
  unknown(stream: Subscriber, filter: ChannelFilter | undefined, lastEventId: string, newestId: string | undefined): { error: unknown } | undefined;
  /** The history no longer follows the log (it lost or trimmed events this process never read): drop it. */
  forget(): void;
  /** Every subscriber gets the `unknownId` answer for `lastEventId` (where the log lost its place). */
  unknownAll(lastEventId: string, newestId: string | undefined): void;
  /** A frame with only a `retry:` field. */
  retry(ms: number): Uint8Array;
}

/** A channel's LocalFeed (set in Channel's static block). */
export let feedOf: (channel: Channel) => LocalFeed;

/** Decides whether one subscriber gets an event; it sees the data send() was given and a copy of its options as read (own enumerable properties, and the id the channel assigned). */
export type ChannelFilter = (data: unknown, options: SendOptions) => boolean;

/**
 * What a subscriber whose Last-Event-ID is no longer (or never was) in the history gets:
 * "all" every event kept, "reset" a `reset` event, "204" an HTTP 204 before its stream
 * opens (needs withSse's `resumeFrom`; a `reset` event if the id expires after that check).
 */
export type UnknownIdPolicy = "all" | "reset" | "204";

export interface ChannelOptions {
  /** The largest event frame (default 64 KiB). */
  maxEventBytes?: number;
  /** Keep the newest events, at most `maxEvents` and `maxBytes` of frames and ids, for clients that resume (default: none). */
  history?: { maxEvents: number; maxBytes: number };
  /** When a resuming client's Last-Event-ID is not in the history (default "reset"). */
  unknownId?: UnknownIdPolicy;
  /** A `retry:` field (ms) each subscriber gets as it subscribes: how soon its client reconnects. */
  retry?: number;
}

const POLICIES: readonly UnknownIdPolicy[] = ["all", "reset", "204"];

/** A snapshot of what a channel did (Channel.stats()). */
export interface ChannelStats {
  subscribers: number;
  /** Events sent (each framed once), and their bytes. */
  events: number;
  bytesFramed: number;
  /** Event frames queued for subscribers, live and replayed. */
  deliveries: number;
  /** Subscribers that resumed from the history, and the events replayed to them. */
  resumes: number;
  replayedEvents: number;
  /** Subscribers whose Last-Event-ID could not be resumed, by the answer they got ("204" is counted by withSse as a refusal). */
  unknownIds: { reset: number; all: number };
  historySize: number;
}

export class Channel {
  readonly unknownId: UnknownIdPolicy;
  private readonly subscribers = new Map<Subscriber, ChannelFilter | undefined>();
  private readonly maxEventBytes: number;
  private readonly history: { maxEvents: number; maxBytes: number } | undefined;
  private readonly log: EventLog | undefined;
  private readonly retryFrame: Uint8Array | undefined;
  /** Made at the first id it assigns, not in the constructor: workerd refuses random values in a module's global scope, where apps make their channels. */
  private idPrefix: string | undefined;
  private idCounter = 0;
  /** The id of the newest recorded event: a client that saw it missed nothing, even if the history was emptied. */
  private newestId: string | undefined;
  private engine: Engine;
  private conn: number;
  /** This turn's frames; dropped at the turn's flush. */
  private batch: Batch | undefined;
  private readonly endOfTurn: Flushable = { flushScheduled: false, flush: () => (this.batch = undefined) };
  private readonly counts = { events: 0, bytesFramed: 0, deliveries: 0, resumes: 0, replayedEvents: 0, reset: 0, all: 0 };
  /**
   * The replay last joined, while the history is unchanged: after a deploy or a failover every
   * client comes back with the same Last-Event-ID at once, and each gets the same bytes
   * (shared, as a broadcast frame is) instead of a copy per frame per client.
   */
  private lastReplay: { first: number; bytes: Uint8Array; count: number } | undefined;
  /** Told when a subscriber's stream ends: it leaves. */
  private readonly leaver: EndListener = { streamEnded: (stream) => void this.subscribers.delete(stream) };

  constructor(given: ChannelOptions = {}) {
    const options = own(given);
    if (options.history !== undefined) options.history = own(options.history);
    this.maxEventBytes = options.maxEventBytes ?? 64 * 1024;
    checkRange("Channel option maxEventBytes", this.maxEventBytes, 64, 0x4000_0000, true);
    if (options.history !== undefined) {
      checkRange("Channel option history.maxEvents", options.history.maxEvents, 1, 1 << 20, true);
      checkRange("Channel option history.maxBytes", options.history.maxBytes, 16, 0x4000_0000, true);
      this.history = { maxEvents: options.history.maxEvents, maxBytes: options.history.maxBytes };
      this.log = new EventLog(this.history.maxEvents);
    }
    this.unknownId = options.unknownId ?? "reset";
    if (!POLICIES.includes(this.unknownId)) throw new RangeError(`Channel option unknownId must be one of ${POLICIES.join(", ")}, got ${String(this.unknownId)}`);
    if (options.retry !== undefined) checkRange("Channel option retry", options.retry, 0, Number.MAX_SAFE_INTEGER, true);
    this.engine = this.createEngine();
    this.conn = this.engine.open();
    if (options.retry !== undefined) {
      this.retryFrame = this.retryOnly(options.retry);
    }
  }

  /** Subscribers now. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * The id of the newest recorded event, or undefined. A page rendered with the state up to
   * here can open its EventSource with ?lastEventId= this, and miss nothing in between.
   */
  get lastId(): string | undefined {
    return this.newestId;
  }

  /** A snapshot of what this channel did: synchronous, nothing allocated per subscriber. */
  stats(): ChannelStats {
    const c = this.counts;
    return {
      subscribers: this.subscribers.size,
      events: c.events,
      bytesFramed: c.bytesFramed,
      deliveries: c.deliveries,
      resumes: c.resumes,
      replayedEvents: c.replayedEvents,
      unknownIds: { reset: c.reset, all: c.all },
      historySize: this.historySize,
    };
  }

  /** Events in the history now. */
  get historySize(): number {
    return this.history === undefined ? 0 : this.core(() => this.engine.historySize);
  }

  /**
   * Adds a stream (again: replaces its filter); it leaves when it closes, or when the
   * returned function is called. A new subscriber first gets the `retry` option, then, if its
   * client resumes (sse.lastEventId), every kept event after that id that its filter accepts
   * (or what `unknownId` says). A stream that is already closed throws CancelledError.
   */
  subscribe(handle: Sse, options: { filter?: ChannelFilter } = {}): () => void {
    return this.join(this.subscriber(handle), own(options).filter, true);
  }

  private subscriber(handle: Sse): Subscriber {
    const sse = streamOf(handle);
    if (sse === undefined) throw new TypeError("Channel.subscribe takes the sse object withSse or sseResponse gave a handler");
    if (!sse.isOpen) throw new CancelledError("the stream is closed");
    if (this.history !== undefined && this.history.maxBytes > sse.maxBufferedBytes) {
      throw new RangeError(`a replay (history.maxBytes ${this.history.maxBytes}) must fit the stream's maxBufferedBytes (${sse.maxBufferedBytes})`);
    }
    return sse;
  }

  private join(sse: Subscriber, filter: ChannelFilter | undefined, catchUp: boolean): () => void {
    const isNew = !this.subscribers.has(sse);
    const replayError = isNew && catchUp ? this.catchUp(sse, filter) : undefined;
    const unsubscribe = () => void this.subscribers.delete(sse);
    if (sse.isOpen) {
      this.subscribers.set(sse, filter);
      sse.onEnd(this.leaver);
    }
    if (replayError !== undefined) throw replayError.error;
    return unsubscribe;
  }

  /** Whether a client with this Last-Event-ID resumes without loss (a client without one always does). */
  resumes(lastEventId: string | undefined): boolean {
    if (this.history === undefined || lastEventId === undefined || lastEventId === "" || lastEventId === this.newestId) return true;
    return this.core(() => this.engine.historyIndex(lastEventId)) !== undefined;
  }

  /**
   * Frames the event once and queues it for every subscriber whose filter accepts it;
   * returns how many. With a history it is recorded (`record: false` skips that) under its
   * id, assigned when none is given. Bad input throws a typed error and sends nothing. A
   * filter that throws skips its subscriber; the first such error is thrown after the
   * others got the event.
   */
  send(data: unknown, options: SendOptions | string = {}): number {
    return this.broadcast(data, data, options);
  }

  private broadcast(frameData: unknown, data: unknown, options: SendOptions | string): number {
    // Read once, own properties only: framing, recording and every filter see one answer.
    const given = sendOptions(options);
    const o = this.recordable(given);
    this.core(() => this.engine.send(this.conn, frameData, o));
    if (o.record === true) {
      this.lastReplay = undefined;
      if (given.id === undefined) this.idCounter++;
      this.newestId = o.id;
      this.log!.push(data, o);
    }
    const frame = this.core(() => this.engine.drain(this.conn));
    this.counts.events++;
    this.counts.bytesFramed += frame.length;
    // The frame joins this turn's batch only once a subscriber takes it: where the end-of-turn
    // reset can be lost (workerd drops a request's timers when it is over), a batch then grows
    // only by frames some open stream holds, which its own flush seals.
    let batch: Batch | undefined;
    let index = 0;
    let delivered = 0;
    let filterError: { error: unknown } | undefined;
    for (const [stream, filter] of this.subscribers) {
      try {
        if (filter !== undefined && !filter(data, o)) continue;
      } catch (error) {
        filterError ??= { error };
        continue;
      }
      if (batch === undefined) {
        batch = this.batch;
        if (batch === undefined || batch.sealed) {
          batch = this.batch = new Batch();
          scheduleFlush(this.endOfTurn);
        }
        index = batch.add(frame);
      }
      if (stream.share(batch, index, frame.length)) delivered++;
    }
    this.counts.deliveries += delivered;
    if (filterError !== undefined) throw filterError.error;
    return delivered;
  }

  /** The options to frame with: with a history, recorded under an id unless record is false. */
  private recordable(o: SendOptions): SendOptions {
    if (this.history === undefined) {
      if (o.record === true) throw new TypeError("this channel keeps no history: give it ChannelOptions.history to record events");
      return o;
    }
    if (o.record === false) return o;
    if (o.id === "") throw new TypeError("a recorded event needs a non-empty id: an empty id makes its client forget where it left off");
    return { ...o, id: o.id ?? `${(this.idPrefix ??= `${randomId()}-`)}${this.idCounter + 1}`, record: true };
  }

  /** Queues what a new subscriber gets before live events; returns a filter's first error. */
  private catchUp(stream: Subscriber, filter: ChannelFilter | undefined): { error: unknown } | undefined {
    if (this.retryFrame !== undefined) stream.deliver(this.retryFrame);
    const last = stream.lastEventId;
    if (this.history === undefined || last === undefined || last === "" || last === this.newestId) return undefined;
    const at = this.core(() => this.engine.historyIndex(last));
    if (at === undefined) return this.unknown(stream, filter, last);
    this.counts.resumes++;
    return this.replay(stream, filter, at + 1);
  }

  /** What a subscriber whose Last-Event-ID is not in the history gets: every kept event, or a reset. */
  private unknown(stream: Subscriber, filter: ChannelFilter | undefined, last: string, newestId = this.newestId): { error: unknown } | undefined {
    this.counts[this.unknownId === "all" ? "all" : "reset"]++;
    if (this.unknownId === "all") return this.history === undefined ? undefined : this.replay(stream, filter, 0);
    stream.deliver(this.resetFrame(last, newestId));
    return undefined;
  }

  /** Delivers the recorded frames from position `first` on that `filter` accepts, oldest first: without a filter, joined in one frame. */
  private replay(stream: Subscriber, filter: ChannelFilter | undefined, first: number): { error: unknown } | undefined {
    if (filter === undefined) {
      let joined = this.lastReplay;
      if (joined?.first !== first) joined = this.lastReplay = { first, ...this.core(() => this.engine.framesJoined(first)) };
      if (joined.count > 0 && stream.deliver(joined.bytes)) {
        this.counts.replayedEvents += joined.count;
        this.counts.deliveries += joined.count;
      }
      return undefined;
    }
    const frames = this.core(() => this.engine.framesFrom(first));
    const count = this.core(() => this.engine.historySize);
    let filterError: { error: unknown } | undefined;
    frames.forEach((frame, k) => {
      const { data, options } = this.log!.at(first + k, count);
      try {
        if (!filter(data, options)) return;
      } catch (error) {
        filterError ??= { error };
        return;
      }
      if (!stream.deliver(frame)) return;
      this.counts.replayedEvents++;
      this.counts.deliveries++;
    });
    return filterError;
  }

  /**
   * `event: reset`, data {"lastEventId": the id the client gave}, and the newest id (when
   * there is one), so the client's next reconnect resumes from now on.
   */
  private resetFrame(lastEventId: string, newestId: string | undefined): Uint8Array {
    const o: SendOptions = newestId === undefined ? { event: "reset" } : { event: "reset", id: newestId };
    this.core(() => this.engine.send(this.conn, { lastEventId }, o));
    return this.core(() => this.engine.drain(this.conn));
  }

  /** Runs calls into the core; after a trap the channel continues on a fresh one, then the trap is thrown. */
  private core<T>(calls: () => T): T {
    try {
      return calls();
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) this.freshCore();
      throw error;
    }
  }

  /** A frame with only a `retry:` field. */
  private retryOnly(ms: number): Uint8Array {
    this.core(() => this.engine.control(this.conn, { retry: ms }));
    return this.core(() => this.engine.drain(this.conn));
  }

  /** A new core, so an empty history. */
  private freshCore(): void {
    this.engine = this.createEngine();
    this.conn = this.engine.open();
    this.lastReplay = undefined;
    this.log?.clear();
  }

  static {
    feedOf = (channel) => ({
      subscriber: (handle) => channel.subscriber(handle),
      join: (stream, filter, catchUp) => channel.join(stream, filter, catchUp),
      broadcast: (frameData, data, options) => channel.broadcast(frameData, data, options),
      frame: (data, options) => {
        channel.core(() => channel.engine.send(channel.conn, data, { ...options, record: false }));
        return channel.core(() => channel.engine.drain(channel.conn));
      },
      retryFrame: channel.retryFrame,
      unknown: (stream, filter, lastEventId, newestId) => channel.unknown(stream, filter, lastEventId, newestId),
      forget: () => {
        if (channel.history === undefined) return;
        channel.freshCore();
        channel.newestId = undefined;
      },
      unknownAll: (lastEventId, newestId) => {
        for (const [stream, filter] of channel.subscribers) channel.unknown(stream, filter, lastEventId, newestId);
      },
      retry: (ms) => channel.retryOnly(ms),
    });
  }

  private createEngine(): Engine {
    return new Engine(coreInstance(), { maxConnections: 1, outBytes: this.maxEventBytes, ...(this.history && { history: this.history }) });
  }
}

/** 6 random bytes, base64url: 8 characters. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}
