// The one blocking reader of a shared channel in this process: XREAD BLOCK from the last ids it
// saw, a batch per read, handed over in the log's order. When Redis fails it retries with
// backoff; back, it first checks that the log still holds the last entry it read (XRANGE id id):
// if not, Redis lost data (restarted empty, ids went back) or trimmed past this reader, and the
// channel is told of the gap before it reads on. Only then are further entries handed over.
//
// A reader that falls behind can be trimmed past without any failure. MAXLEN ~ n keeps at least
// n entries, so when the last id read is gone at least n entries follow it: a read that returns
// fewer than min(n, batch) entries cannot have skipped any. One that returns that many is not
// trusted: it is made again in a transaction with the XRANGE check, and reads stay checked that
// way until the reader has caught up.
import type { BrokerError } from "./broker-error.js";
import { compareIds } from "./entry-id.js";
import type { RawEntry, RedisLog } from "./log.js";

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

export class LogReader {
  /** Whether the last read succeeded. */
  isUp = true;
  /** Reads that returned, recoveries after a failure, and how old the newest entry was when read (ms, from its id). */
  reads = 0;
  recoveries = 0;
  lagMs = 0;
  private stopped = false;
  private wake: (() => void) | undefined;
  /** A read of this many resumable entries may follow a trim past this reader. */
  private readonly suspectAt: number;
  private readonly blockMs: number;

  constructor(
    private readonly log: RedisLog,
    /** The last entry id read from each stream ("0-0": from the start). */
    private main: string,
    private transient: string,
    private readonly on: ReaderEvents,
    /** The stream's MAXLEN (every process's should be the same: the smallest one counts). */
    maxLen: number,
  ) {
    this.suspectAt = Math.min(maxLen, BATCH);
    this.blockMs = Math.max(1, Math.min(BLOCK_MS, Math.floor(log.commandTimeoutMs / 2)));
  }

  /** The id of the last resumable entry read. */
  get lastRead(): string {
    return this.main;
  }

  async run(): Promise<void> {
    let failures = 0;
    let checked = false;
    while (!this.stopped) {
      try {
        if (failures > 0) {
          await this.checkContinuity();
          this.markUp();
        }
        const got: { here?: boolean; main: RawEntry[]; transient: RawEntry[] } = checked ? await this.log.readChecked(this.main, this.transient, BATCH) : await this.log.read(this.main, this.transient, BATCH, this.blockMs);
        if (this.stopped) return;
        this.markUp();
        failures = 0;
        this.reads++;
        if (got.main.length > 0) this.lagMs = Math.max(0, Date.now() - Number(String(got.main[got.main.length - 1]![0]).split("-")[0]));
        if (!checked && got.main.length >= this.suspectAt) {
          checked = true;
          continue; // read again, checked
        }
        if (got.here === false && this.main !== "0-0") this.lost();
        checked = got.main.length >= this.suspectAt;
        if (got.main.length > 0) this.main = String(got.main[got.main.length - 1]![0]);
        if (got.transient.length > 0) this.transient = String(got.transient[got.transient.length - 1]![0]);
        if (got.main.length + got.transient.length > 0) this.on.entries(got.main, got.transient);
      } catch (error) {
        if (this.stopped) return;
        if (this.isUp) {
          this.isUp = false;
          this.on.down(error as BrokerError);
        }
        await this.pause(Math.min(50 * 2 ** failures++, MAX_BACKOFF_MS));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private markUp(): void {
    if (this.isUp || this.stopped) return;
    this.isUp = true;
    this.recoveries++;
    this.on.up();
  }

  private async checkContinuity(): Promise<void> {
    if (this.main === "0-0") return;
    const [here, newest] = await Promise.all([this.log.range(this.main, this.main, 1), this.log.newest(this.log.key)]);
    if (here.length > 0) return;
    // Emptied, or ids now behind ours: everything in the stream is new since the loss.
    this.lost(newest === undefined || compareIds(newest, this.main) < 0 ? "0-0" : this.main);
  }

  /** The last id read is gone from the log: the channel is told, and reading goes on from `from`. */
  private lost(from = this.main): void {
    const lastRead = this.main;
    this.main = from;
    this.on.gap(lastRead);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
