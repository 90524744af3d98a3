// One event-stream client on a raw socket, as the load tests' client processes run them by
// the thousand: it counts what arrives (bytes, events, keep-alive comments) and checks that
// numbered events (id "1", "2", …, data starting with the id) arrive in order without a gap.
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
  readonly counts: ClientCounts = { status: 0, bytes: 0, events: 0, comments: 0, lastId: 0, disorder: 0, ended: false, closed: false, malformed: undefined };
  readonly socket: Socket;
  private readonly response: ChunkedResponse;
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();

  constructor(target: Target, private mode: ReadMode, onHead: (client: SseClient) => void, onClose: (client: SseClient) => void) {
    this.parser = createParser({
      onEvent: (e) => this.onEvent(e.id, e.data),
      onComment: () => void this.counts.comments++,
    });
    this.response = new ChunkedResponse((bytes) => {
      this.counts.bytes += bytes.length;
      this.parser.feed(this.decoder.decode(bytes, { stream: true }));
    });
    this.socket = connect({ port: target.port, host: target.host, localAddress: target.localAddress });
    this.socket.on("connect", () => {
      this.socket.write(`GET ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    this.socket.on("data", (data: Buffer) => {
      const hadHead = this.response.status !== 0;
      this.response.push(data);
      this.counts.ended = this.response.ended;
      this.counts.malformed = this.response.malformed;
      if (!hadHead && this.response.status !== 0) {
        this.counts.status = this.response.status;
        if (this.mode === "frozen") this.socket.pause();
        onHead(this);
      }
      if (this.mode === "slow") {
        this.socket.pause();
        setTimeout(() => this.mode === "slow" && this.socket.resume(), SIP_MS);
      }
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.counts.closed = true;
      onClose(this);
    });
  }

  /** From now on, read everything (a frozen client thaws to collect what it was sent). */
  readAll(): void {
    this.mode = "fast";
    this.socket.resume();
  }

  private onEvent(id: string | undefined, data: string): void {
    this.counts.events++;
    if (id === undefined || !/^\d+$/.test(id)) return;
    const n = Number(id);
    if (n !== this.counts.lastId + 1 || !data.startsWith(`${id}:`)) this.counts.disorder++;
    this.counts.lastId = n;
  }
}
