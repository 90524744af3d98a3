// The Redis connections of every shared channel in this process that names the same server and
// options: two, whatever the number of channels, because a blocking XREAD holds its connection:
// `client` (XADD, XRANGE) and `reader` (one XREAD BLOCK for every channel's streams, reader.ts).
// Channels take a share (acquire) and give it back (release); the last one closes them.
//
// Both connect at start-up and a failure there (wrong password, no server, bad certificate)
// rejects acquire(); after that the client reconnects on its own, with backoff. Commands made
// while it is offline fail at once (no offline queue: a send is either in the log or refused).
import { BrokerError } from "./broker-error.js";
import { HubReader } from "./reader.js";

/** The node-redis client, as far as this package uses it (the package is an optional peer, loaded by acquire()). */
export interface Client {
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

export interface ConnectionOptions {
  url: string;
  /** acquire() gives up (BrokerError) when Redis has not answered within this. */
  connectTimeoutMs: number;
  /** A command Redis has not answered within this fails (BrokerError). */
  commandTimeoutMs: number;
  /** More createClient options (socket.tls, socket.ca, username, password…). */
  client?: Record<string, unknown>;
}

const shared = new Map<string, Promise<Connection>>();

export class Connection {
  /** Commands sent so far on both connections, for every channel. */
  commands = 0;
  readonly reader: HubReader;
  private refs = 1;

  private constructor(
    private readonly key: string,
    readonly client: Client,
    /** `client` with every string of a reply as bytes. */
    readonly bytes: Client,
    readonly readerBytes: Client,
    readonly commandTimeoutMs: number,
  ) {
    this.reader = new HubReader(this);
  }

  /** This process's connections for `o` (made at the first call, shared after). */
  static async acquire(o: ConnectionOptions): Promise<Connection> {
    const key = JSON.stringify([o.url, o.connectTimeoutMs, o.commandTimeoutMs, o.client ?? {}]);
    const known = shared.get(key);
    if (known !== undefined) {
      const connection = await known;
      connection.refs++;
      return connection;
    }
    const made = Connection.open(key, o);
    shared.set(key, made);
    made.catch(() => shared.delete(key));
    return made;
  }

  private static async open(key: string, o: ConnectionOptions): Promise<Connection> {
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
    return new Connection(key, client, client.withTypeMapping(bytes), reader.withTypeMapping(bytes), o.commandTimeoutMs);
  }

  /** Gives a share back; the last closes both connections (a command a paused Redis never answers is failed after a second). */
  async release(): Promise<void> {
    if (--this.refs > 0) return;
    shared.delete(this.key);
    this.reader.stop();
    this.readerBytes.destroy();
    const graceful = this.client.close().catch(() => {});
    const timer = new Promise((resolve) => setTimeout(resolve, 1000).unref?.());
    await Promise.race([graceful, timer]);
    this.client.destroy();
  }

  /** Sends a command on `client`, counted; a failure is a BrokerError. */
  async call(client: Client, args: (string | Buffer)[]): Promise<unknown> {
    this.commands++;
    try {
      return await client.sendCommand(args);
    } catch (error) {
      throw new BrokerError(`Redis ${String(args[0])} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }

  /** Commands in one transaction on `client` (one round trip), counted. */
  async transaction(client: Client, commands: string[][]): Promise<unknown[]> {
    this.commands += commands.length + 2; // with MULTI and EXEC
    let t = client.multi();
    for (const args of commands) t = t.addCommand(args);
    try {
      return await t.exec();
    } catch (error) {
      throw new BrokerError(`Redis MULTI (${commands.map((c) => c[0]).join(", ")}) failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
  }
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
