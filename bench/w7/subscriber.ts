// One W7 client: an event stream on a raw socket, read by the bench's HTTP reader and by
// eventsource-parser, that reconnects with Last-Event-ID when told to. Every event is checked
// as it arrives: its id must be the one due (from 1 up; after a reconnect from where the
// runner says the peer resumes) and its data the bench's reading for that id, byte for byte.
import net from "node:net";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { ResponseReader } from "../client/response.js";
import { reading } from "../event.js";
import { nowUs } from "../w6/clock.js";

/** Where the latest connection stands: opening, streaming, refused (503), another status, failed before a head, or ended. */
export type Outcome = "connecting" | "open" | "refused" | "status" | "error" | "closed";

/** What the client process hears from its subscribers. */
export interface Watcher {
  /** The response head arrived, or the connection failed before it (the outcome says which). */
  settled(s: Subscriber): void;
  /** Event `id` arrived (checked already). */
  event(s: Subscriber, id: number): void;
  /** A stream that was open ended. */
  closed(s: Subscriber): void;
  failure(text: string): void;
}

/** Client sockets spread over 127.0.0.2…9: ten thousand reconnects on top of ten thousand cut connections never run out of ephemeral ports. */
const localAddress = (i: number): string => `127.0.0.${2 + (i % 8)}`;

const dataOf: string[] = [];
/** Event id's data as every peer sends it: JSON.stringify of reading(id). */
const expectedData = (id: number): string => (dataOf[id] ??= JSON.stringify(reading(id)));

export class Subscriber {
  outcome: Outcome = "connecting";
  /** The id of the newest event received: the Last-Event-ID of a reconnect. */
  lastId = 0;
  /** The id the next event must carry. */
  private next = 1;
  /** Once this id is due (every missed event in), the client has caught up; 0: not tracked. */
  private liveId = 0;
  /** CLOCK_MONOTONIC µs: when the latest connection started, and when it caught up (0: not yet). */
  startedUs = 0;
  caughtUpUs = 0;
  reconnected = false;
  private socket: net.Socket | undefined;
  private afterClose: (() => void) | undefined;

  constructor(readonly index: number, private readonly port: number, private readonly watcher: Watcher) {}

  /** The first connection: no Last-Event-ID. */
  open(): void {
    this.connect(undefined);
  }

  /** Once its stream is gone (at once if it is): a new connection with Last-Event-ID, whose first event must be `resumeAt`. */
  reconnect(resumeAt: number, liveId: number): void {
    const go = (): void => {
      this.next = resumeAt;
      this.liveId = liveId;
      this.reconnected = true;
      this.connect(String(this.lastId));
    };
    if (this.outcome === "open" || this.outcome === "connecting") this.afterClose = go;
    else go();
  }

  /** Gone without a TIME_WAIT (a reset), so repeated runs never run out of ports. */
  destroy(): void {
    this.afterClose = undefined;
    this.socket?.removeAllListeners("close");
    this.socket?.resetAndDestroy();
  }

  private connect(lastEventId: string | undefined): void {
    this.outcome = "connecting";
    this.startedUs = nowUs();
    this.caughtUpUs = 0;
    const parser = createParser({
      onEvent: (e) => this.onEvent(e),
      onError: (err) => this.watcher.failure(`client ${this.index}: eventsource-parser: ${err.message}`),
    });
    const decoder = new TextDecoder();
    const reader = new ResponseReader((bytes) => parser.feed(decoder.decode(bytes, { stream: true })));
    const socket = net.connect({ host: "127.0.0.1", port: this.port, localAddress: localAddress(this.index) });
    this.socket = socket;
    socket.on("connect", () => {
      const resume = lastEventId === undefined ? "" : `Last-Event-ID: ${lastEventId}\r\n`;
      socket.write(`GET /subscribe HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\nAccept: text/event-stream\r\n${resume}\r\n`);
    });
    socket.on("data", (buf: Buffer) => {
      try {
        reader.feed(buf);
      } catch (error) {
        // The reader throws at any status but 200, having read it.
        if (reader.status === 0) this.watcher.failure(`client ${this.index}: ${(error as Error).message}`);
        this.outcome = reader.status === 503 ? "refused" : "status";
        this.watcher.settled(this);
        socket.destroy();
        return;
      }
      if (this.outcome === "connecting" && reader.headersDone) {
        this.outcome = "open";
        this.watcher.settled(this);
      }
      if (this.caughtUpUs === 0 && this.liveId > 0 && reader.headersDone && this.next >= this.liveId) this.caughtUpUs = nowUs();
    });
    socket.on("error", () => {}); // "close" follows
    socket.on("close", () => {
      if (this.outcome === "connecting") {
        this.outcome = "error";
        this.watcher.settled(this);
      } else if (this.outcome === "open") {
        this.outcome = "closed";
        this.watcher.closed(this);
      }
      const then = this.afterClose;
      this.afterClose = undefined;
      then?.();
    });
  }

  private onEvent(e: EventSourceMessage): void {
    const id = Number(e.id);
    if (!Number.isSafeInteger(id) || id < 1) {
      this.watcher.failure(`client ${this.index}: an event with id ${JSON.stringify(e.id)} where ${this.next} was due`);
      return;
    }
    if (id !== this.next) this.watcher.failure(`client ${this.index}: event ${id} where ${this.next} was due`);
    else if (e.data !== expectedData(id)) this.watcher.failure(`client ${this.index}: event ${id} with data ${e.data}`);
    this.lastId = id;
    this.next = id + 1;
    this.watcher.event(this, id);
  }
}
