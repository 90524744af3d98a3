// Malformed and hostile requests: each gets a clear status, no stream and no core slot, while
// a stream that is already open keeps its slot and its events. (Accept negotiation, 405 and
// HEAD basics and a 300-byte Last-Event-ID are in node-http.test.ts.)
import { connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Channel, withSse, type SseListener } from "../host/index.js";
import { reader, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";

let running: Running;
let listener: SseListener<never>;
let calls: Array<string | undefined>;
const channel = new Channel({ history: { maxEvents: 10, maxBytes: 4096 } });
let bystander: { stream: ReturnType<typeof reader>; abort: AbortController };

beforeEach(async () => {
  calls = [];
  listener = withSse(async (_req, sse) => {
    calls.push(sse.lastEventId);
    channel.subscribe(sse);
    await sse.closed;
  }) as SseListener<never>;
  running = await serve(listener);
  // One open stream, there before and after every bad request.
  const abort = new AbortController();
  const response = await fetch(running.url, { signal: abort.signal, headers: { Accept: "text/event-stream" } });
  const stream = reader();
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
    } catch {
      // aborted
    }
  })();
  bystander = { stream, abort };
  await until(() => channel.size === 1, 2000, "the bystander");
});

afterEach(async () => {
  bystander.abort.abort();
  await running.close();
});

/** Sends raw request bytes; resolves with the status line and the body once the server closes. */
function raw(request: Buffer | string): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(running.port, "127.0.0.1");
    const parts: Buffer[] = [];
    socket.on("data", (d: Buffer) => parts.push(d));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(parts).toString("latin1");
      const bodyAt = text.indexOf("\r\n\r\n");
      resolve({ status: text.slice(0, text.indexOf("\r\n")), body: bodyAt < 0 ? "" : text.slice(bodyAt + 4) });
    });
    socket.write(request);
  });
}

function get(extra: Buffer | string = "", path = "/", method = "GET"): Buffer {
  return Buffer.concat([
    Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nConnection: close\r\n`, "latin1"),
    Buffer.isBuffer(extra) ? extra : Buffer.from(extra, "latin1"),
    Buffer.from("\r\n"),
  ]);
}

/** Nothing leaked: only the bystander holds a slot, the handler ran only for it, and it still gets events. */
async function expectUntouched(): Promise<void> {
  expect(listener.openConnections).toBe(1);
  expect(calls).toEqual([undefined]);
  const before = bystander.stream.events().length;
  channel.send("still here");
  await until(() => bystander.stream.events().length === before + 1, 2000, "the bystander's event");
}

describe("malformed requests", () => {
  it("answers 431 to a 100 KB Last-Event-ID (Node's 16 KB header limit) before the listener runs", async () => {
    expect((await raw(get(`Last-Event-ID: ${"7".repeat(100_000)}\r\n`))).status).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    expect((await raw(get("", `/?lastEventId=${"7".repeat(100_000)}`))).status).toBe("HTTP/1.1 431 Request Header Fields Too Large");
    await expectUntouched();
  });

  it("answers 400 to a Last-Event-ID under Node's limit but over the core's 256 bytes, in the header or the query", async () => {
    const header = await raw(get(`Last-Event-ID: ${"7".repeat(10_000)}\r\n`));
    const query = await raw(get("", `/?lastEventId=${"7".repeat(1000)}`));
    for (const r of [header, query]) {
      expect(r.status).toBe("HTTP/1.1 400 Bad Request");
      expect(r.body).toContain("Last-Event-ID refused");
    }
    await expectUntouched();
  });

  it("answers 400 to a Last-Event-ID with bytes that are not UTF-8", async () => {
    for (const bytes of [[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82, 0x41]]) {
      const r = await raw(get(Buffer.concat([Buffer.from("Last-Event-ID: id-"), Buffer.from(bytes), Buffer.from("\r\n")])));
      expect(r.status).toBe("HTTP/1.1 400 Bad Request");
      expect(r.body).toContain("not UTF-8");
    }
    await expectUntouched();
  });

  it("answers 400 to a lastEventId query parameter whose bytes are not UTF-8 or whose escapes are malformed, as to the header", async () => {
    for (const query of ["id-%FF%FE", "id-%C3", "id-%ED%A0%80", "id-%E2%82A", "id-%C0%80", "id-%ZZ", "id-%F", "id-%"]) {
      const r = await raw(get("", `/?lastEventId=${query}`));
      expect(r.status, query).toBe("HTTP/1.1 400 Bad Request");
      expect(r.body).toContain("Last-Event-ID refused: the lastEventId query parameter is not percent-encoded UTF-8");
    }
    await expectUntouched();
  }, 10_000); // an accepted one would stream until the timeout

  it("answers 400 to a control character in Last-Event-ID: Node refuses NUL, the core LF from the query", async () => {
    expect((await raw(get("Last-Event-ID: a\x00b\r\n"))).status).toBe("HTTP/1.1 400 Bad Request");
    const lf = await raw(get("", "/?lastEventId=a%0Ab"));
    expect(lf.status).toBe("HTTP/1.1 400 Bad Request");
    expect(lf.body).toContain("Last-Event-ID refused");
    await expectUntouched();
  });

  it("refuses HEAD, POST and OPTIONS with their statuses and no body, even with a bad Last-Event-ID", async () => {
    const bad = Buffer.from([...Buffer.from("Last-Event-ID: "), 0xff, 13, 10]);
    expect((await raw(get(bad, "/", "POST"))).status).toBe("HTTP/1.1 405 Method Not Allowed");
    expect((await raw(get(bad, "/", "OPTIONS"))).status).toBe("HTTP/1.1 405 Method Not Allowed");
    const head = await raw(get("", "/", "HEAD"));
    expect(head.status).toBe("HTTP/1.1 200 OK");
    expect(head.body).toBe("");
    await expectUntouched();
  });

  it("streams to a bare HTTP/1.0 request with no Accept and no Host, without promising keep-alive, and frees its slot when it goes", async () => {
    const socket = connect(running.port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (text += d));
    socket.write("GET / HTTP/1.0\r\n\r\n");
    await until(() => listener.openConnections === 2 && text.includes("\r\n\r\n"), 2000, "the stream");
    expect(text.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
    expect(text.toLowerCase()).not.toContain("connection: keep-alive");
    socket.destroy();
    await until(() => listener.openConnections === 1, 2000, "the slot to free");
    calls.pop();
    await expectUntouched();
  });
});

describe("Last-Event-ID as UTF-8", () => {
  it("decodes the header's bytes as UTF-8, so a non-ASCII id resumes", async () => {
    channel.send("before", { id: "é-✓-1" });
    channel.send("after");
    const request = get(Buffer.from("Last-Event-ID: é-✓-1\r\n", "utf8"));
    const socket = connect(running.port, "127.0.0.1");
    const got = reader();
    let head = true;
    socket.on("data", (d: Buffer) => {
      if (!head) return got.feed(d);
      const at = d.indexOf("\r\n\r\n");
      if (at >= 0) (head = false), got.feed(d.subarray(at + 4));
    });
    socket.write(request);
    await until(() => got.events().length === 1, 2000, "the replay");
    expect(calls[1]).toBe("é-✓-1");
    expect(got.events()[0]!.data).toBe("after");
    socket.destroy();
  });
});
