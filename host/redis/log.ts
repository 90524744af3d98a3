// One shared channel's side of Redis: a stream key for the events clients can resume from and
// one, trimmed short, for transient events, on connections shared with every other channel of
// this process on the same server (connection.ts).
import { Connection, type ConnectionOptions } from "./connection.js";
import type { Field } from "./entry.js";

export interface RedisLogOptions extends ConnectionOptions {
  /** The stream key is prefix + stream; the transient events' key adds ":transient". */
  key: string;
  maxLen: number;
  transientMaxLen: number;
}

/** Raw entries of one XREAD or XRANGE reply: [id, [field, value, …]] with every string as bytes. */
export type RawEntry = [Uint8Array, Uint8Array[]];

export class RedisLog {
  /** Commands this channel sent itself (XADD, XRANGE, XREVRANGE). */
  commands = 0;
  readonly transientKey: string;
  private closed = false;

  private constructor(
    readonly connection: Connection,
    readonly key: string,
    private readonly o: RedisLogOptions,
  ) {
    this.transientKey = `${key}:transient`;
  }

  static async open(o: RedisLogOptions): Promise<RedisLog> {
    return new RedisLog(await Connection.acquire(o), o.key, o);
  }

  /** XADD with approximate MAXLEN trimming; resolves with the entry id. */
  async append(fields: Field[], transient: boolean): Promise<string> {
    const [key, maxLen] = transient ? [this.transientKey, this.o.transientMaxLen] : [this.key, this.o.maxLen];
    // Copied now: the command is written on a later tick, and the caller's bytes may change by then.
    const args = fields.map((f) => (typeof f === "string" ? f : Buffer.from(f)));
    this.commands++;
    return String(await this.connection.call(this.connection.client, ["XADD", key, "MAXLEN", "~", String(maxLen), "*", ...args]));
  }

  /** Entries of the stream from `start` to `end` (XRANGE syntax: "(" excludes), at most `count`. */
  async range(start: string, end: string, count: number): Promise<RawEntry[]> {
    this.commands++;
    return entries(await this.connection.call(this.connection.bytes, ["XRANGE", this.key, start, end, "COUNT", String(count)]));
  }

  /** The newest entry id of `key`, or undefined when the stream is empty or absent. */
  async newest(key: string): Promise<string | undefined> {
    this.commands++;
    const [last] = entries(await this.connection.call(this.connection.bytes, ["XREVRANGE", key, "+", "-", "COUNT", "1"]));
    return last === undefined ? undefined : String(last[0]);
  }

  /** Gives back this channel's share of the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.release();
  }

  get maxLen(): number {
    return this.o.maxLen;
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/** An XREAD reply by stream key: node-redis gives RESP2's [[key, entries], …] as an object keyed by name (RESP3: a Map). */
export function streams(reply: unknown): Map<string, unknown> {
  const byKey = new Map<string, unknown>();
  if (reply === null || reply === undefined) return byKey;
  if (reply instanceof Map) for (const [k, v] of reply) byKey.set(String(k), v);
  else if (Array.isArray(reply)) for (const [k, v] of reply as [unknown, unknown][]) byKey.set(String(k), v);
  else for (const [k, v] of Object.entries(reply as object)) byKey.set(k, v);
  return byKey;
}

export function entries(reply: unknown): RawEntry[] {
  return Array.isArray(reply) ? (reply as RawEntry[]) : [];
}
