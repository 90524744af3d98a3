// W6's client, a process of its own: raw sockets to /subscribe on each server, the body read
// by the bench's HTTP reader (../client/response.ts), each event's index and publish time
// read from its bytes. Per stream it checks that events arrive once each, in order, with none
// missing; per group (the publisher's process, the other) it keeps a histogram of
// publish-to-delivery latency in whole microseconds.
//
// It reads a million events a second on a machine it shares with the servers, so its hot path
// is lean: sockets read into one reused buffer (net's onread: no Buffer, no stream machinery per
// read), and each event is scanned in JS, line by line (a native Buffer search per field cost
// more).
import net from "node:net";
import { ResponseReader } from "../client/response.js";
import { nowUs } from "./clock.js";
import type { Latency, W6ClientCommand, W6ClientReply } from "./protocol.js";

const OPEN_CONCURRENCY = 500;
/** Latencies below FINE_US fall in 1 µs buckets, longer ones in COARSE_US buckets up to MAX_US (beyond: the last bucket). */
const FINE_US = 100_000;
const COARSE_US = 100;
const MAX_US = 120_000_000;
const BUCKETS = FINE_US + Math.ceil((MAX_US - FINE_US) / COARSE_US);
const LF = 0x0a;
/** `data: {"i":` and `,"t":`, as every W6 event's data line starts (w6Event's key order). */
const DATA_I = Buffer.from('data: {"i":');
const COMMA_T = Buffer.from(',"t":');
/** Every socket reads into this one buffer; each read is handled before the next. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

class Histogram {
  readonly buckets = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  add(us: number): void {
    this.count++;
    if (us < 0) us = 0; // one clock for every process: a negative value would be a bug, left visible as 0
    if (us > this.max) this.max = us;
    this.buckets[us < FINE_US ? us : Math.min(BUCKETS - 1, FINE_US + Math.floor((us - FINE_US) / COARSE_US))]!++;
  }

  clear(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
  }

  static latency(hs: Histogram[]): Latency {
    const count = hs.reduce((a, h) => a + h.count, 0);
    const ps = [0.5, 0.9, 0.99, 0.999];
    const qs = ps.map(() => NaN);
    // One pass: each quantile is the lower edge of the bucket that holds its rank.
    let seen = 0;
    let k = 0;
    for (let b = 0; b < BUCKETS && k < ps.length && count > 0; b++) {
      for (const h of hs) seen += h.buckets[b]!;
      while (k < ps.length && seen > Math.min(count - 1, Math.floor(ps[k]! * count))) qs[k++] = b < FINE_US ? b : FINE_US + (b - FINE_US) * COARSE_US;
    }
    const max = count === 0 ? NaN : Math.max(...hs.map((h) => h.max));
    return { deliveries: count, p50: qs[0]!, p90: qs[1]!, p99: qs[2]!, p999: qs[3]!, max };
  }
}

/** Whether buf holds `key` at p. */
function at(buf: Buffer, p: number, key: Buffer): boolean {
  if (p + key.length > buf.length) return false;
  for (let k = 0; k < key.length; k++) if (buf[p + k] !== key[k]) return false;
  return true;
}

class Stream {
  socket!: net.Socket;
  /** The index of the next event this stream should get. */
  next = 0;
  closedByServer = false;
  private rest: Buffer | undefined;
  private readonly reader = new ResponseReader((bytes) => this.body(bytes));
  private at = 0;

  constructor(readonly group: number, readonly id: number) {}

  feed(buf: Buffer): void {
    this.at = nowUs();
    // The reader keeps an incomplete head as it is: copy it out of the shared buffer until the head is read.
    this.reader.feed(this.reader.headersDone ? buf : Buffer.from(buf));
  }

  /** Body bytes (in the shared read buffer: whatever outlives this call is copied). */
  private body(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    const n = buf.length;
    let p = 0;
    // Event by event: its lines up to the blank one; the data line gives i and t.
    while (p < n) {
      const start = p;
      let i = -1;
      let t = -1;
      let complete = false;
      while (p < n) {
        if (buf[p] === LF) {
          p++;
          complete = true;
          break;
        }
        if (buf[p] === 0x64 /* d */ && at(buf, p, DATA_I)) {
          p += DATA_I.length;
          i = 0;
          for (let c = buf[p]! - 48; c >= 0 && c <= 9; c = buf[++p]! - 48) i = i * 10 + c;
          if (at(buf, p, COMMA_T)) {
            p += COMMA_T.length;
            t = 0;
            for (let c = buf[p]! - 48; c >= 0 && c <= 9; c = buf[++p]! - 48) t = t * 10 + c;
          }
        }
        const lf = buf.indexOf(LF, p); // memchr: quicker than a JS loop over the rest of the line
        p = lf === -1 ? n + 1 : lf + 1;
      }
      if (!complete) {
        this.rest = Buffer.from(buf.subarray(start));
        return;
      }
      this.event(i, t, buf, start, p);
    }
  }

  private event(i: number, t: number, buf: Buffer, start: number, end: number): void {
    if (i < 0 || t < 0) {
      failure(`stream ${this.id} (group ${this.group}): an event without an index and time: ${JSON.stringify(buf.toString("utf8", start, end))}`);
      return;
    }
    if (i !== this.next) failure(`stream ${this.id} (group ${this.group}): event ${i} where event ${this.next} was due`);
    this.next = i + 1;
    if (i >= expectFrom && i < expectTo) {
      histograms[this.group]!.add(this.at - t);
      if (i === expectTo - 1) finished();
    }
  }
}

let streams: Stream[] = [];
const histograms: Histogram[] = [];
let failures: string[] = [];
let failureCount = 0;
let expectFrom = 0;
let expectTo = 0;
let done = 0;

function reply(msg: W6ClientReply): void {
  process.send!(msg);
}

function fail(err: unknown): void {
  reply({ type: "error", message: err instanceof Error ? err.message : String(err) });
}

function failure(text: string): void {
  if (++failureCount <= 20) failures.push(text);
}

function finished(): void {
  if (++done !== streams.length) return; // once: a repeated last event (a failure of its own) must not count again
  const listed = failureCount > 20 ? [...failures, `… ${failureCount - 20} more`] : [...failures];
  const groups = histograms.map((h) => Histogram.latency([h]));
  reply({ type: "counted", groups, all: Histogram.latency(histograms), failures: listed });
}

function connect(port: number, s: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: "127.0.0.1",
      port,
      onread: {
        buffer: READ_BUFFER,
        callback: (nread: number, buf: Uint8Array): boolean => {
          try {
            s.feed(Buffer.from(buf.buffer, buf.byteOffset, nread));
          } catch (err) {
            fail(err);
          }
          return true;
        },
      },
    });
    s.socket = socket;
    let connected = false;
    socket.setNoDelay(true);
    socket.on("connect", () => {
      connected = true;
      socket.write(`GET /subscribe HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
      resolve();
    });
    socket.on("end", () => {
      s.closedByServer = true;
      failure(`stream ${s.id} (group ${s.group}): the server ended it after event ${s.next - 1}`);
    });
    socket.on("error", (err) => (connected ? fail(err) : reject(err)));
  });
}

async function open(port: number, conns: number, group: number): Promise<void> {
  while (histograms.length <= group) histograms.push(new Histogram());
  const fresh: Stream[] = [];
  for (let i = 0; i < conns; i += OPEN_CONCURRENCY) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(conns, i + OPEN_CONCURRENCY); j++) {
      const s = new Stream(group, streams.length + j);
      fresh.push(s);
      batch.push(connect(port, s));
    }
    await Promise.all(batch);
  }
  streams = streams.concat(fresh);
  reply({ type: "opened", conns: fresh.length });
}

function expect(from: number, to: number): void {
  for (const h of histograms) h.clear();
  expectFrom = from;
  expectTo = to;
  done = streams.filter((s) => s.next >= to).length;
  // Acknowledged before the runner starts the publisher: no event of the pass can arrive under the previous pass's range.
  reply({ type: "expecting" });
  if (done === streams.length) finished();
}

function status(): void {
  const groups = histograms.map((_, g) => {
    const mine = streams.filter((s) => s.group === g);
    const next = mine.map((s) => s.next);
    return { streams: mine.length, lowestNext: Math.min(...next), highestNext: Math.max(...next), ended: mine.filter((s) => s.closedByServer).length };
  });
  reply({ type: "status", groups, failures: [...failures] });
}

function closeAll(): void {
  for (const s of streams) {
    s.socket.removeAllListeners("end");
    s.socket.resetAndDestroy();
  }
  streams = [];
  histograms.length = 0;
  failures = [];
  failureCount = 0;
  reply({ type: "closed" });
}

process.on("message", (msg: W6ClientCommand) => {
  const run = async (): Promise<void> => {
    switch (msg.type) {
      case "open":
        return open(msg.port, msg.conns, msg.group);
      case "expect":
        return expect(msg.from, msg.to);
      case "status":
        return status();
      case "close":
        return closeAll();
    }
  };
  run().catch(fail);
});
process.on("disconnect", () => process.exit(0));
