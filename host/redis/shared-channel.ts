// A channel every process shares through one Redis stream: send() appends the event (XADD),
// and each process's one reader (reader.ts, shared by its channels on the same Redis) hands every
// entry to this channel, which frames it once in its core and fans it out
// to its own subscribers through a local Channel, exactly as an in-process send would. Event
// ids are the entry ids, so they mean the same on every process: a client resumes anywhere.
//
// Resume: from the local history when it holds the client's Last-Event-ID; else from Redis, the
// id checked (XRANGE id id) and what follows read (XRANGE (id +) while live events are held,
// then, once this process's reader has delivered up to the replay's last id, joined in one
// synchronous step: the replay, the held events after its last id, and the live subscription.
// No event falls between them or arrives twice.
//
// Nothing is delivered that the log did not accept: a send is only framed for subscribers when
// a reader reads it back, on the publisher's process too.
import type { SendOptions } from "../../bindings/index.js";
import { sendOptions } from "../../bindings/send-options.js";
import { Channel, feedOf, type ChannelFilter, type ChannelStats, type ChannelOptions, type LocalFeed, type Subscriber, type UnknownIdPolicy } from "../common/channel.js";
import { checkRange } from "../common/check-range.js";
import { own } from "../common/own.js";
import { logError, report } from "../common/report.js";
import type { Sse } from "../common/sse.js";
import { BrokerError } from "./broker-error.js";
import { entryOf, fieldsOf, type Entry } from "./entry.js";
import { compareIds, isEntryId, LONGEST_ID } from "./entry-id.js";
import { RedisLog, type RawEntry } from "./log.js";
import type { HubReader, Reading } from "./reader.js";

export interface SharedChannelOptions extends ChannelOptions {
  redis: {
    /** redis://[user:password@]host:port, or rediss:// for TLS. */
    url: string;
    /** The stream's name; its key is prefix + stream. */
    stream: string;
    /**
     * Keep about this many events in Redis (XADD MAXLEN ~: Redis trims whole nodes, so a few
     * more); default 10,000. Give every process the same: a reader checks it was not trimmed past
     * by reads of this many events.
     */
    maxLen?: number;
    /** Put before every key, so apps sharing one Redis never read each other's events (default "wasm-sse:"). */
    prefix?: string;
    /** Keep about this many transient (record: false) events (default 1,000); they are never replayed. */
    transientMaxLen?: number;
    /** More node-redis createClient options: socket.tls and socket.ca, username, password… */
    client?: Record<string, unknown>;
    /** connect() rejects with BrokerError when Redis has not answered within this (default 10,000 ms). */
    connectTimeoutMs?: number;
    /**
     * A send (or a resume's read) Redis has not answered within this rejects with BrokerError
     * (default 5,000 ms); the event may still be appended if Redis was only slow.
     */
    commandTimeoutMs?: number;
  };
  /** A resume read from Redis takes at most this many events (default history.maxEvents, else 1,000); more get the unknownId answer. */
  replayLimit?: number;
  /** Told when Redis fails (once per outage), loses events, or holds an entry that is not an event (default: console.error). */
  onError?: (error: unknown) => void;
}

/** Channel.stats() with what the Redis side did. */
export interface SharedChannelStats extends ChannelStats {
  broker: {
    /** Whether the reader's last call to Redis succeeded. */
    connected: boolean;
    /** Redis commands sent, XREAD calls that returned, sends Redis refused or never answered. */
    commands: number;
    reads: number;
    failedSends: number;
    /** Times the reader came back after Redis failed, and times it found events lost or trimmed past it. */
    recoveries: number;
    gaps: number;
    /** How old the newest event was when the reader read it (ms, from its entry id): the reader's lag. */
    readerLagMs: number;
  };
}

/** A subscriber whose replay is being read from Redis: the live events meanwhile wait here. */
interface Joiner {
  readonly stream: Subscriber;
  readonly filter: ChannelFilter | undefined;
  readonly held: Entry[];
  left: boolean;
  /** Read from Redis, to be joined once this process's reader has delivered `upTo` (the replay's last id, or the client's). */
  replay?: { last: string; entries: Entry[]; upTo: string };
  unsubscribe?: () => void;
}

/** How soon a client refused during an outage tries again, when the channel has no `retry` option. */
const OUTAGE_RETRY_MS = 1000;

export class SharedChannel {
  readonly unknownId: UnknownIdPolicy;
  private readonly feed: LocalFeed;
  /** This channel's place in the process's one reader for its Redis. */
  private readonly reading: Reading;
  private readonly hub: HubReader;
  private readerCommandsAtClose: number | undefined;
  private readonly joining = new Set<Joiner>();
  private readonly hasHistory: boolean;
  private readonly replayLimit: number;
  private readonly onError: (error: unknown) => void;
  private readonly outageFrame: Uint8Array;
  private readonly counts = { resumes: 0, replayedEvents: 0, failedSends: 0, gaps: 0 };
  /** The id of the newest resumable event this process delivered. */
  private newestId: string | undefined;

  /** Connects (rejects with BrokerError if Redis refuses: a wrong password fails here) and starts reading. */
  static async connect(given: SharedChannelOptions): Promise<SharedChannel> {
    const options = own(given);
    const r = options.redis === undefined ? undefined : own(options.redis);
    if (typeof r?.url !== "string") throw new TypeError("SharedChannel option redis.url must be a redis:// or rediss:// URL");
    if (typeof r.stream !== "string" || r.stream === "") throw new TypeError("SharedChannel option redis.stream must be a non-empty string");
    const prefix = r.prefix ?? "wasm-sse:";
    if (typeof prefix !== "string") throw new TypeError("SharedChannel option redis.prefix must be a string");
    const maxLen = r.maxLen ?? 10_000;
    checkRange("SharedChannel option redis.maxLen", maxLen, 1, Number.MAX_SAFE_INTEGER, true);
    const transientMaxLen = r.transientMaxLen ?? 1000;
    checkRange("SharedChannel option redis.transientMaxLen", transientMaxLen, 1, Number.MAX_SAFE_INTEGER, true);
    const connectTimeoutMs = r.connectTimeoutMs ?? 10_000;
    checkRange("SharedChannel option redis.connectTimeoutMs", connectTimeoutMs, 1, 2 ** 31 - 1, true);
    const commandTimeoutMs = r.commandTimeoutMs ?? 5000;
    checkRange("SharedChannel option redis.commandTimeoutMs", commandTimeoutMs, 10, 2 ** 31 - 1, true);
    if (options.replayLimit !== undefined) checkRange("SharedChannel option replayLimit", options.replayLimit, 1, 1 << 20, true);
    const local = new Channel(options);
    const log = await RedisLog.open({ url: r.url, key: prefix + r.stream, maxLen, transientMaxLen, connectTimeoutMs, commandTimeoutMs, client: r.client });
    try {
      const [main, transient] = await Promise.all([log.newest(log.key), log.newest(log.transientKey)]);
      return new SharedChannel(local, log, main ?? "0-0", transient ?? "0-0", options);
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  private constructor(
    private readonly local: Channel,
    private readonly log: RedisLog,
    main: string,
    transient: string,
    options: SharedChannelOptions,
  ) {
    this.unknownId = local.unknownId;
    this.feed = feedOf(local);
    this.hasHistory = options.history !== undefined;
    this.replayLimit = options.replayLimit ?? options.history?.maxEvents ?? 1000;
    this.onError = options.onError ?? logError;
    this.outageFrame = this.feed.retryFrame ?? this.feed.retry(OUTAGE_RETRY_MS);
    this.newestId = main === "0-0" ? undefined : main;
    this.hub = log.connection.reader;
    this.reading = this.hub.register(log, main, transient, {
      entries: (mainEntries, transientEntries) => {
        for (const raw of mainEntries) this.deliver(raw, true);
        for (const raw of transientEntries) this.deliver(raw, false);
      },
      gap: (lastRead) => this.lostPlace(lastRead),
      down: (error) => report(this.onError, error),
      up: () => {},
    });
  }

  /** Subscribers now, those whose replay is still being read from Redis included. */
  get size(): number {
    return this.local.size + this.joining.size;
  }

  /** The id of the newest event this process read from the log (a page can resume its EventSource from it). */
  get lastId(): string | undefined {
    return this.newestId;
  }

  /** Events in this process's history. */
  get historySize(): number {
    return this.local.historySize;
  }

  /** A snapshot: the local channel's (its events are those read from Redis) and the Redis side's. */
  stats(): SharedChannelStats {
    const local = this.local.stats();
    const c = this.counts;
    return {
      ...local,
      subscribers: this.size,
      resumes: local.resumes + c.resumes,
      replayedEvents: local.replayedEvents + c.replayedEvents,
      deliveries: local.deliveries + c.replayedEvents,
      broker: {
        connected: this.hub.isUp,
        commands: this.redisCommands,
        reads: this.hub.reads,
        failedSends: c.failedSends,
        recoveries: this.hub.recoveries,
        gaps: c.gaps,
        readerLagMs: this.reading.lagMs,
      },
    };
  }

  /** Whether the reader's last call to Redis succeeded. */
  get connected(): boolean {
    return this.hub.isUp;
  }

  /**
   * Redis commands sent so far for this channel: its own (XADD, XRANGE) and the reader's, which
   * it shares with the other channels of this process on the same Redis (until it closes).
   */
  get redisCommands(): number {
    return this.log.commands + (this.readerCommandsAtClose ?? this.hub.commands);
  }

  /**
   * As Channel.subscribe. A client whose Last-Event-ID this process's history does not hold is
   * resumed from Redis (its retry and replay come a moment later); while Redis is unreachable,
   * such a client gets a `retry:` and its stream ends, so EventSource comes back later.
   */
  subscribe(handle: Sse, options: { filter?: ChannelFilter } = {}): () => void {
    const stream = this.feed.subscriber(handle);
    const filter = own(options).filter;
    const last = stream.lastEventId;
    if (this.missedNothing(last)) {
      // Not the local channel's catch-up: its history may have begun after the newest event read here.
      if (this.feed.retryFrame !== undefined) stream.deliver(this.feed.retryFrame);
      return this.feed.join(stream, filter, false);
    }
    if (this.servesLocally(last)) return this.feed.join(stream, filter, true);
    if (!isEntryId(last!)) {
      if (this.feed.retryFrame !== undefined) stream.deliver(this.feed.retryFrame);
      const filterError = this.unknown(stream, filter, last!);
      const unsubscribe = this.feed.join(stream, filter, false);
      if (filterError !== undefined) throw filterError.error;
      return unsubscribe;
    }
    if (!this.hub.isUp) {
      this.refuse(stream);
      return () => {};
    }
    const joiner: Joiner = { stream, filter, held: [], left: false };
    this.joining.add(joiner);
    // A client gone while its replay is read holds nothing (and counts in no size) meanwhile.
    stream.onEnd({ streamEnded: () => void this.joining.delete(joiner) });
    void this.resumeFromLog(last!, joiner);
    return () => {
      joiner.left = true;
      this.joining.delete(joiner);
      joiner.unsubscribe?.();
    };
  }

  /** Whether a client with this Last-Event-ID resumes without loss; asks Redis when this process cannot tell (true while Redis is down). */
  async resumes(lastEventId: string | undefined): Promise<boolean> {
    if (this.servesLocally(lastEventId)) return true;
    if (!isEntryId(lastEventId!)) return false;
    try {
      return (await this.readAfter(lastEventId!)) !== undefined;
    } catch {
      return true; // subscribe() answers with a retry, which EventSource follows
    }
  }

  /**
   * Appends the event to the Redis stream; resolves with its entry id (undefined for a
   * transient, `record: false`, event) once Redis accepted it. Subscribers on every process,
   * this one too, get it from their reader. Bad input rejects with the core's typed error and
   * appends nothing; Redis unreachable rejects with BrokerError at once; while Redis is paused
   * it waits. The id is Redis's: an `id` option is refused.
   */
  async send(data: unknown, options: SendOptions | string = {}): Promise<string | undefined> {
    const o = sendOptions(options);
    if (o.id !== undefined) throw new TypeError("a shared channel's event ids are its Redis entry ids: send() takes no id option");
    if (this.log.isClosed) throw new BrokerError("the channel is closed");
    const transient = o.record === false;
    const framing: SendOptions = { event: o.event, retry: o.retry, ...(transient ? {} : { id: LONGEST_ID }) };
    const frame = this.feed.frame(data, framing);
    let id: string;
    try {
      id = await this.log.append(fieldsOf(data, o, frame), transient);
    } catch (error) {
      this.counts.failedSends++;
      throw error;
    }
    return transient ? undefined : id;
  }

  /** Stops reading and closes the Redis connections; subscribed streams stay open. */
  async close(): Promise<void> {
    this.hub.unregister(this.reading);
    this.readerCommandsAtClose ??= this.hub.commands;
    await this.log.close();
  }

  /** A new client, or one that saw the newest event read here. */
  private missedNothing(last: string | undefined): boolean {
    return last === undefined || last === "" || last === this.newestId;
  }

  private servesLocally(last: string | undefined): boolean {
    return this.missedNothing(last) || (this.hasHistory && this.local.resumes(last!));
  }

  /** Reads what a client missed after `last` from Redis, then joins it (at once, or when the reader has caught up). */
  private async resumeFromLog(last: string, joiner: Joiner): Promise<void> {
    let entries: Entry[] | undefined;
    try {
      entries = await this.readAfter(last);
    } catch {
      this.joining.delete(joiner);
      if (joiner.stream.isOpen && !joiner.left) this.refuse(joiner.stream);
      return;
    }
    if (entries !== undefined) {
      // Redis may answer with entries this process's reader has not delivered yet (or the client,
      // from another process, may be ahead of it): joined now, it would get them again live.
      const upTo = entries.length > 0 ? entries[entries.length - 1]!.id : last;
      if (compareIds(upTo, this.reading.lastRead) > 0 && joiner.stream.isOpen && !joiner.left) {
        joiner.replay = { last, entries, upTo };
        return; // deliver() joins it when the reader reaches upTo
      }
    }
    this.join(joiner, last, entries);
  }

  /** Delivers a joiner's replay (or the unknownId answer, without `entries`) and the live events held meanwhile, then subscribes it. */
  private join(joiner: Joiner, last: string, entries: Entry[] | undefined): void {
    this.joining.delete(joiner);
    const { stream, filter, held } = joiner;
    if (!stream.isOpen || joiner.left) return;
    if (this.feed.retryFrame !== undefined) stream.deliver(this.feed.retryFrame);
    let filterError: { error: unknown } | undefined;
    if (entries !== undefined) {
      const upTo = entries.length > 0 ? entries[entries.length - 1]!.id : last;
      for (const entry of held) if (compareIds(entry.id, upTo) > 0) entries.push(entry);
      const replay = this.replayOf(entries, filter, stream.maxBufferedBytes);
      if (replay !== undefined) {
        let replayed = 0;
        for (const frame of replay.frames) if (stream.deliver(frame)) replayed++;
        this.counts.resumes++;
        this.counts.replayedEvents += replayed;
        filterError = replay.filterError;
      } else entries = undefined;
    }
    if (entries === undefined) filterError = this.unknown(stream, filter, last);
    joiner.unsubscribe = this.feed.join(stream, filter, false);
    if (filterError !== undefined) report(this.onError, filterError.error);
  }

  /**
   * The unknownId answer, the local channel's: "all" is what this process's history holds; a
   * reset carries the newest id read here (the local channel knows only those it recorded).
   */
  private unknown(stream: Subscriber, filter: ChannelFilter | undefined, last: string): { error: unknown } | undefined {
    return this.feed.unknown(stream, filter, last, this.newestId);
  }

  /** The events after `last` in Redis, or undefined when `last` is not there or more than replayLimit follow it. */
  private async readAfter(last: string): Promise<Entry[] | undefined> {
    const [here, after] = await Promise.all([this.log.range(last, last, 1), this.log.range(`(${last}`, "+", this.replayLimit + 1)]);
    if (here.length === 0 || after.length > this.replayLimit) return undefined;
    const entries: Entry[] = [];
    for (const [id, fields] of after) {
      const entry = this.decode(String(id), fields, true);
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  /** The frames a resuming subscriber gets; undefined if they would not fit what its stream may hold. */
  private replayOf(entries: Entry[], filter: ChannelFilter | undefined, maxBytes: number): { frames: Uint8Array[]; filterError?: { error: unknown } } | undefined {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    let filterError: { error: unknown } | undefined;
    for (const entry of entries) {
      try {
        if (filter !== undefined && !filter(entry.data, entry.options)) continue;
      } catch (error) {
        filterError ??= { error };
        continue;
      }
      const frame = this.feed.frame(entry.frameData, entry.options);
      if ((bytes += frame.length) > maxBytes) return undefined;
      frames.push(frame);
    }
    return { frames, filterError };
  }

  /** An entry the reader read: framed once and fanned out here; a resumable one is also held for joining subscribers. */
  private deliver([rawId, fields]: RawEntry, resumable: boolean): void {
    const id = String(rawId);
    if (resumable) this.newestId = id;
    const entry = this.decode(id, fields, resumable);
    if (entry !== undefined) {
      try {
        this.feed.broadcast(entry.frameData, entry.data, entry.options);
      } catch (error) {
        report(this.onError, error);
      }
      if (resumable) for (const joiner of this.joining) joiner.held.push(entry);
    }
    if (resumable) for (const joiner of this.joining) if (joiner.replay !== undefined && compareIds(id, joiner.replay.upTo) >= 0) this.join(joiner, joiner.replay.last, joiner.replay.entries);
  }

  private decode(id: string, fields: Uint8Array[], resumable: boolean): Entry | undefined {
    try {
      const entry = entryOf(id, fields, resumable);
      if (entry !== undefined) return entry;
    } catch {
      // a malformed JSON text: reported as not an event
    }
    report(this.onError, new BrokerError(`entry ${id} of ${resumable ? this.log.key : this.log.transientKey} is not a wasm-sse event; skipped`));
    return undefined;
  }

  /** Redis no longer holds the last event read here: the history is dropped and every subscriber gets the unknownId answer. */
  private lostPlace(lastRead: string): void {
    this.counts.gaps++;
    this.feed.forget();
    this.newestId = undefined;
    this.feed.unknownAll(lastRead, undefined);
    for (const joiner of this.joining) if (joiner.replay !== undefined) this.join(joiner, joiner.replay.last, undefined);
    report(this.onError, new BrokerError(`the Redis stream ${this.log.key} no longer holds ${lastRead}, the last event read here: events may be lost, so subscribers got the unknownId answer`));
  }

  /** A client this process cannot serve while Redis is unreachable: a retry, then the end (EventSource reconnects). */
  private refuse(stream: Subscriber): void {
    stream.shutdown(this.outageFrame, "broker_unavailable");
  }
}
