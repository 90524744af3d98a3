// One event-stream client on a raw socket, as the load tests' client processes run them by
// the thousand: it counts what arrives (bytes, events, keep-alive comments) and checks that
// numbered events (id "1", "2", …, data starting with the id) arrive in order without a gap,
// across reconnects too (a reconnect sends Last-Event-ID, as EventSource does).
import { connect, type Socket } from "node:net";
import { createParser, type EventSourceParser } from "eventsource-parser";
import { ChunkedResponse } from "./chunked.js";

/** fast: reads everything; frozen: stops reading after the response head; slow: reads in small sips. */
export type ReadMode = "fast" | "frozen" | "slow";

export interface ClientCounts {
  status: number;
  bytes: number;
  events: number;
  comments: number;
  lastId: number;
  /** Events out of order, with a gap, or whose data does not match their id. */
  disorder: number;
  /** Connections after the first (reconnect()). */
  reconnects: number;
  /** The server ended the stream with the terminating chunk. */
  ended: boolean;
  closed: boolean;
  malformed: string | undefined;
}

export interface Target {
  port: number;
  host: string;
  localAddress: string;
  path: string;
}

const SIP_MS = 10;

export class SseClient {
  readonly counts: ClientCounts = { status: 0, bytes: 0, events: 0, comments: 0, lastId: 0, disorder: 0, reconnects: 0, ended: false, closed: false, malformed: undefined };
  socket!: Socket;
  /** The id field of the last event received: a reconnect's Last-Event-ID. */
  private lastEventId: string | undefined;

  constructor(private readonly target: Target, private mode: ReadMode, private onHead: (client: SseClient) => void, private onClose: (client: SseClient) => void) {
    this.connect();
  }

  /** A new connection once the last one closed, with Last-Event-ID; `settled` runs at its response head or its close. */
  reconnect(settled: (client: SseClient) => void): void {
    if (!this.counts.closed) throw new Error("reconnect() before the stream closed");
    Object.assign(this.counts, { status: 0, ended: false, closed: false, malformed: undefined });
    this.counts.reconnects++;
    this.onHead = this.onClose = settled;
    this.connect();
  }

  /** Each connection reads with a fresh parser: an event cut off mid-way is dropped, as EventSource drops it. */
  private connect(): void {
    const parser: EventSourceParser = createParser({
      onEvent: (e) => this.onEvent(e.id, e.data),
      onComment: () => void this.counts.comments++,
    });
    const decoder = new TextDecoder();
    const response = new ChunkedResponse((bytes) => {
      this.counts.bytes += bytes.length;
      parser.feed(decoder.decode(bytes, { stream: true }));
    });
    const { target } = this;
    const resume = this.lastEventId === undefined ? "" : `Last-Event-ID: ${this.lastEventId}\r\n`;
    const socket = connect({ port: target.port, host: target.host, localAddress: target.localAddress });
    this.socket = socket;
    socket.on("connect", () => {
      socket.write(`GET ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n${resume}\r\n`);
    });
    socket.on("data", (data: Buffer) => {
      const hadHead = response.status !== 0;
      response.push(data);
      this.counts.ended = response.ended;
      this.counts.malformed = response.malformed;
      if (!hadHead && response.status !== 0) {
        this.counts.status = response.status;
        if (this.mode === "frozen") socket.pause();
        this.onHead(this);
      }
      if (this.mode === "slow") {
        socket.pause();
        setTimeout(() => this.mode === "slow" && socket.resume(), SIP_MS);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.counts.closed = true;
      this.onClose(this);
    });
  }

  /** From now on, read everything (a frozen client thaws to collect what it was sent). */
  readAll(): void {
    this.mode = "fast";
    this.socket.resume();
  }

  private onEvent(id: string | undefined, data: string): void {
    this.counts.events++;
    if (id !== undefined) this.lastEventId = id;
    if (id === undefined || !/^\d+$/.test(id)) return;
    const n = Number(id);
    if (n !== this.counts.lastId + 1 || !data.startsWith(`${id}:`)) this.counts.disorder++;
    this.counts.lastId = n;
  }
}
