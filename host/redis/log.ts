// The Redis side of a shared channel: one stream key for the events clients can resume from
// and one, trimmed short, for transient events; two connections, because a blocking XREAD
// holds its connection: `commands` (XADD, XRANGE) and `reader` (XREAD BLOCK, one per channel).
//
// Both connect at start-up and a failure there (wrong password, no server, bad certificate)
// rejects open(); after that the client reconnects on its own, with backoff. Commands made
// while it is offline fail at once (no offline queue: a send is either in the log or refused).
import { BrokerError } from "./broker-error.js";
import type { Field } from "./entry.js";

/** The node-redis client, as far as this file uses it (the package is an optional peer, loaded by open()). */
interface Client {
  connect(): Promise<unknown>;
  sendCommand(args: (string | Buffer)[]): Promise<unknown>;
  duplicate(): Client;
  withTypeMapping(mapping: Record<number, unknown>): Client;
  multi(): Transaction;
  on(event: "error", listener: (error: unknown) => void): unknown;
  close(): Promise<unknown>;
  destroy(): void;
}

interface Transaction {
  addCommand(args: string[]): Transaction;
  exec(): Promise<unknown[]>;
}

export interface RedisLogOptions {
  url: string;
  /** The stream key is prefix + stream; the transient events' key adds ":transient". */
  key: string;
  maxLen: number;
  transientMaxLen: number;
  /** open() gives up (BrokerError) when Redis has not answered within this. */
  connectTimeoutMs: number;
  /** A command Redis has not answered within this fails (BrokerError). */
  commandTimeoutMs: number;
  /** More createClient options (socket.tls, socket.ca, username, password…). */
  client?: Record<string, unknown>;
}

/** Raw entries of one XREAD or XRANGE reply: [id, [field, value, …]] with every string as bytes. */
export type RawEntry = [Uint8Array, Uint8Array[]];

export class RedisLog {
  /** Commands sent so far on both connections. */
  commands = 0;
  readonly transientKey: string;
  private closed = false;

  private constructor(
    private readonly client: Client,
    private readonly bytes: Client,
    private readonly reader: Client,
    readonly key: string,
    private readonly o: RedisLogOptions,
  ) {
    this.transientKey = `${key}:transient`;
  }

  static async open(o: RedisLogOptions): Promise<RedisLog> {
    const { createClient, RESP_TYPES } = (await import("redis").catch((error: unknown) => {
      throw new Error('a SharedChannel needs the "redis" package (node-redis), an optional peer dependency: npm install redis', { cause: error });
    })) as unknown as {
      createClient(options: Record<string, unknown>): Client;
      RESP_TYPES: { BLOB_STRING: number };
    };
    let starting = true;
    const socket = (o.client?.socket ?? {}) as Record<string, unknown>;
    const client = createClient({
      ...o.client,
      url: o.url,
      disableOfflineQueue: true,
      // rejectInFlight: the timeout also ends a command already written (a paused Redis), not only a queued one.
      commandOptions: { ...(o.client?.commandOptions as object | undefined), timeout: o.commandTimeoutMs, rejectInFlight: true },
      // At start-up a failure is the caller's to see; later, retry every 50 ms doubling to 2 s.
      socket: { ...socket, reconnectStrategy: (attempt: number) => (starting ? false : Math.min(50 * 2 ** attempt, 2000)) },
    });
    const reader = client.duplicate();
    for (const c of [client, reader]) c.on("error", () => {}); // each failure also fails the command that met it
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A paused Redis accepts the TCP connection and never answers: connect() would wait for ever.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    });
    try {
      await Promise.race([Promise.all([client.connect(), reader.connect()]), timeout]);
    } catch (error) {
      client.destroy();
      reader.destroy();
      throw new BrokerError(`cannot connect to Redis at ${redacted(o.url)}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    starting = false;
    const bytes = { [RESP_TYPES.BLOB_STRING]: Buffer };
    return new RedisLog(client, client.withTypeMapping(bytes), reader.withTypeMapping(bytes), o.key, o);
  }

  /** XADD with approximate MAXLEN trimming; resolves with the entry id. */
  async append(fields: Field[], transient: boolean): Promise<string> {
    const [key, maxLen] = transient ? [this.transientKey, this.o.transientMaxLen] : [this.key, this.o.maxLen];
    // Copied now: the command is written on a later tick, and the caller's bytes may change by then.
    const args = fields.map((f) => (typeof f === "string" ? f : Buffer.from(f)));
    return String(await this.call(this.client, ["XADD", key, "MAXLEN", "~", String(maxLen), "*", ...args]));
  }

  /** Entries of `key` from `start` to `end` (XRANGE syntax: "(" excludes), at most `count`. */
  async range(start: string, end: string, count: number): Promise<RawEntry[]> {
    return entries(await this.call(this.bytes, ["XRANGE", this.key, start, end, "COUNT", String(count)]));
  }

  /** The newest entry id of `key`, or undefined when the stream is empty or absent. */
  async newest(key: string): Promise<string | undefined> {
    const [last] = entries(await this.call(this.bytes, ["XREVRANGE", key, "+", "-", "COUNT", "1"]));
    return last === undefined ? undefined : String(last[0]);
  }

  /** XREAD BLOCK on the reader connection: entries after `main` and `transient`, or none after blockMs. */
  async read(main: string, transient: string, count: number, blockMs: number): Promise<{ main: RawEntry[]; transient: RawEntry[] }> {
    const reply = await this.call(this.reader, ["XREAD", "COUNT", String(count), "BLOCK", String(blockMs), "STREAMS", this.key, this.transientKey, main, transient]);
    const byKey = streams(reply);
    return { main: entries(byKey.get(this.key)), transient: entries(byKey.get(this.transientKey)) };
  }

  /**
   * read() without blocking, in one transaction with a check that `main` is still in the
   * stream: what it returns follows `main` with nothing trimmed in between when `here`.
   */
  async readChecked(main: string, transient: string, count: number): Promise<{ here: boolean; main: RawEntry[]; transient: RawEntry[] }> {
    this.commands += 4; // MULTI, XRANGE, XREAD, EXEC: one round trip
    let replies: unknown[];
    try {
      replies = await this.reader
        .multi()
        .addCommand(["XRANGE", this.key, main, main, "COUNT", "1"])
        .addCommand(["XREAD", "COUNT", String(count), "STREAMS", this.key, this.transientKey, main, transient])
        .exec();
    } catch (error) {
      throw new BrokerError(`Redis MULTI (XRANGE, XREAD) failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    const byKey = streams(replies[1]);
    return { here: entries(replies[0]).length > 0, main: entries(byKey.get(this.key)), transient: entries(byKey.get(this.transientKey)) };
  }

  /** Closes both connections; a command still waiting (a paused Redis) is failed after a second. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reader.destroy();
    const graceful = this.client.close().catch(() => {});
    const timer = new Promise((resolve) => setTimeout(resolve, 1000).unref?.());
    await Promise.race([graceful, timer]);
    this.client.destroy();
  }

  get commandTimeoutMs(): number {
    return this.o.commandTimeoutMs;
  }

  get maxLen(): number {
    return this.o.maxLen;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async call(client: Client, args: (string | Buffer)[]): Promise<unknown> {
    this.commands++;
    try {
      return await client.sendCommand(args);
    } catch (error) {
      throw new BrokerError(`Redis ${String(args[0])} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }
}

/** An XREAD reply by stream key: node-redis gives RESP2's [[key, entries], …] as an object keyed by name (RESP3: a Map). */
function streams(reply: unknown): Map<string, unknown> {
  const byKey = new Map<string, unknown>();
  if (reply === null || reply === undefined) return byKey;
  if (reply instanceof Map) for (const [k, v] of reply) byKey.set(String(k), v);
  else if (Array.isArray(reply)) for (const [k, v] of reply as [unknown, unknown][]) byKey.set(String(k), v);
  else for (const [k, v] of Object.entries(reply as object)) byKey.set(k, v);
  return byKey;
}

function entries(reply: unknown): RawEntry[] {
  return Array.isArray(reply) ? (reply as RawEntry[]) : [];
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return "(an unparsable URL)";
  }
}
