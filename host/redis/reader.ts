// The one blocking reader of this process's shared channels on one Redis server: one XREAD
// BLOCK for every channel's two streams, from the last ids each saw, a batch per read, handed
// to each channel in its log's order. A channel that registers while the read waits wakes it
// (CLIENT UNBLOCK), so the next read includes its streams.
//
// When Redis fails the reader retries with backoff; back, it first checks, for each channel,
// that the log still holds the last entry read (XRANGE id id): if not, Redis lost data
// (restarted empty, ids went back) or trimmed past this reader, and the channel is told of the
// gap before it reads on.
//
// A channel that falls behind can be trimmed past without any failure. MAXLEN ~ n keeps at
// least n entries, so when the last id read is gone at least n entries follow it: a read that
// returns fewer than min(n, batch) of a channel's entries cannot have skipped any. One that
// returns that many is not trusted: the channel's entries are read again in a transaction with
// the XRANGE check, and its reads stay checked that way until it has caught up.
import type { BrokerError } from "./broker-error.js";
import type { Connection } from "./connection.js";
import { compareIds } from "./entry-id.js";
import { entries, streams, type RawEntry, type RedisLog } from "./log.js";

export interface ReaderEvents {
  /** Entries of one read, each stream's in order (resumable ones first). */
  entries(main: RawEntry[], transient: RawEntry[]): void;
  /** The log no longer holds what this reader read last: events may have been lost. */
  gap(lastRead: string): void;
  /** Redis failed (the first failure of an outage); up() follows when a read succeeds again. */
  down(error: BrokerError): void;
  up(): void;
}

const BATCH = 1000;
/** How long an XREAD waits for entries (at most half the command timeout, so an idle read never times out). */
const BLOCK_MS = 2000;
const MAX_BACKOFF_MS = 2000;

/** One channel's place in the reads. */
export class Reading {
  /** How old the newest entry was when read (ms, from its id). */
  lagMs = 0;
  /** Its reads are checked (see above). */
  checked = false;
  /** A read of this many resumable entries may follow a trim past this channel. */
  readonly suspectAt: number;

  constructor(
    readonly log: RedisLog,
    /** The last entry id read from each stream ("0-0": from the start). */
    public main: string,
    public transient: string,
    readonly on: ReaderEvents,
  ) {
    this.suspectAt = Math.min(log.maxLen, BATCH);
  }

  /** The id of the last resumable entry read. */
  get lastRead(): string {
    return this.main;
  }
}

export class HubReader {
  /** Whether the last read succeeded. */
  isUp = true;
  /** Reads that returned, and recoveries after a failure. */
  reads = 0;
  /** Commands the reader sent (XREAD, its checks, CLIENT ID and UNBLOCK). */
  commands = 0;
  recoveries = 0;
  private readonly readings = new Set<Reading>();
  private running = false;
  private stopped = false;
  private wakeBackoff: (() => void) | undefined;
  /** The reader connection's CLIENT ID, for CLIENT UNBLOCK (asked again after a failure: a reconnect changes it). */
  private clientId: string | undefined;
  /** Registrations so far, and how many of them the read in flight includes. */
  private generation = 0;
  private seen = 0;
  private readonly blockMs: number;

  constructor(private readonly connection: Connection) {
    this.blockMs = Math.max(1, Math.min(BLOCK_MS, Math.floor(connection.commandTimeoutMs / 2)));
  }

  /** Reads `log`'s streams from `main` and `transient` on; events go to `on`. */
  register(log: RedisLog, main: string, transient: string, on: ReaderEvents): Reading {
    const reading = new Reading(log, main, transient, on);
    this.readings.add(reading);
    const generation = ++this.generation;
    if (!this.running) {
      this.running = true;
      void this.run();
    } else void this.interrupt(generation);
    return reading;
  }

  unregister(reading: Reading): void {
    this.readings.delete(reading);
  }

  stop(): void {
    this.stopped = true;
    this.wakeBackoff?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped && this.readings.size > 0) {
      try {
        if (this.clientId === undefined || failures > 0) this.clientId = String(await this.call(this.connection.readerBytes, ["CLIENT", "ID"]));
        if (failures > 0) {
          for (const reading of [...this.readings]) await this.checkContinuity(reading);
          this.markUp();
        }
        const list = [...this.readings];
        this.seen = this.generation;
        const checked = list.filter((r) => r.checked);
        const got = checked.length > 0 ? await this.readChecked(list, checked) : { byKey: await this.read(list), here: undefined };
        if (this.stopped) return;
        this.markUp();
        failures = 0;
        this.reads++;
        for (const reading of list) if (this.readings.has(reading)) this.handOver(reading, got.byKey, got.here?.get(reading));
      } catch (error) {
        if (this.stopped) return;
        if (this.isUp) {
          this.isUp = false;
          for (const reading of this.readings) reading.on.down(error as BrokerError);
        }
        await this.pause(Math.min(50 * 2 ** failures++, MAX_BACKOFF_MS));
      }
    }
    this.running = false;
  }

  /** One channel's part of a read: handed over, or (a suspect read) left to be read again, checked. */
  private handOver(reading: Reading, byKey: Map<string, unknown>, here: boolean | undefined): void {
    // Two channels on one stream share its key in the read, from the place of the one behind.
    const main = after(entries(byKey.get(reading.log.key)), reading.main);
    const transient = after(entries(byKey.get(reading.log.transientKey)), reading.transient);
    const newest = main.length > 0 ? String(main[main.length - 1]![0]) : undefined;
    if (newest !== undefined) reading.lagMs = Math.max(0, Date.now() - parseInt(newest, 10));
    if (!reading.checked && main.length >= reading.suspectAt) {
      reading.checked = true;
      return; // read again, checked: its place has not moved
    }
    if (here === false && reading.main !== "0-0") this.lost(reading);
    reading.checked = main.length >= reading.suspectAt;
    if (newest !== undefined) reading.main = newest;
    if (transient.length > 0) reading.transient = String(transient[transient.length - 1]![0]);
    if (main.length + transient.length > 0) reading.on.entries(main, transient);
  }

  /** XREAD BLOCK on the reader connection: every channel's entries after its places, or none after blockMs. */
  private async read(list: Reading[]): Promise<Map<string, unknown>> {
    return streams(await this.call(this.connection.readerBytes, ["XREAD", "COUNT", String(BATCH), "BLOCK", String(this.blockMs), ...streamArgs(list)]));
  }

  /** read() without blocking, in one transaction with a check, for each checked channel, that its place is still in its stream. */
  private async readChecked(list: Reading[], checked: Reading[]): Promise<{ byKey: Map<string, unknown>; here: Map<Reading, boolean> }> {
    this.commands += checked.length + 3;
    const replies = await this.connection.transaction(this.connection.readerBytes, [
      ...checked.map((r) => ["XRANGE", r.log.key, r.main, r.main, "COUNT", "1"]),
      ["XREAD", "COUNT", String(BATCH), ...streamArgs(list)],
    ]);
    return { byKey: streams(replies[checked.length]), here: new Map(checked.map((r, i) => [r, entries(replies[i]).length > 0])) };
  }

  /** Wakes the read in flight (CLIENT UNBLOCK) until the reads include registration `generation`. */
  private async interrupt(generation: number): Promise<void> {
    for (let tries = 0; tries < 100 && !this.stopped && this.seen < generation; tries++) {
      if (this.clientId !== undefined) await this.call(this.connection.client, ["CLIENT", "UNBLOCK", this.clientId]).catch(() => {});
      if (this.seen >= generation) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private call(...args: Parameters<Connection["call"]>): Promise<unknown> {
    this.commands++;
    return this.connection.call(...args);
  }

  private markUp(): void {
    if (this.isUp || this.stopped) return;
    this.isUp = true;
    this.recoveries++;
    for (const reading of this.readings) reading.on.up();
  }

  private async checkContinuity(reading: Reading): Promise<void> {
    if (reading.main === "0-0") return;
    const [here, newest] = await Promise.all([reading.log.range(reading.main, reading.main, 1), reading.log.newest(reading.log.key)]);
    if (here.length > 0) return;
    // Emptied, or ids now behind ours: everything in the stream is new since the loss.
    this.lost(reading, newest === undefined || compareIds(newest, reading.main) < 0 ? "0-0" : reading.main);
  }

  /** A channel's last id read is gone from its log: it is told, and reading goes on from `from`. */
  private lost(reading: Reading, from = reading.main): void {
    const lastRead = reading.main;
    reading.main = from;
    reading.on.gap(lastRead);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** XREAD's STREAMS arguments: every key once, then its place (the earliest of the channels reading it). */
function streamArgs(list: Reading[]): string[] {
  const places = new Map<string, string>();
  for (const r of list) {
    keepEarliest(places, r.log.key, r.main);
    keepEarliest(places, r.log.transientKey, r.transient);
  }
  return ["STREAMS", ...places.keys(), ...places.values()];
}

/** Sets `key`'s place to `id` unless it has an earlier one. */
function keepEarliest(places: Map<string, string>, key: string, id: string): void {
  const known = places.get(key);
  if (known === undefined || compareIds(id, known) < 0) places.set(key, id);
}

/** The entries after `id` (all of them when the read started there). */
function after(list: RawEntry[], id: string): RawEntry[] {
  if (list.length === 0 || compareIds(String(list[0]![0]), id) > 0) return list;
  return list.filter((e) => compareIds(String(e[0]), id) > 0);
}
