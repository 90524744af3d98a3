// Exact bytes of the event-stream writer: the seed's examples, every field, comments, keep-alive.
import { describe, expect, it } from "vitest";
import { engine, text } from "./support/wasm.js";

function framed(send: (e: ReturnType<typeof engine>, c: number) => void): string {
  const e = engine({ maxConnections: 2, outBytes: 4096 });
  const c = e.open();
  send(e, c);
  return text(e.drain(c));
}

describe("framing", () => {
  it("frames the seed's examples exactly as Microdot does (compact JSON)", () => {
    expect(framed((e, c) => e.send(c, { counter: 0 }))).toBe('data: {"counter":0}\n\n');
    expect(framed((e, c) => e.send(c, "end", { event: "comment" }))).toBe("event: comment\ndata: end\n\n");
    expect(framed((e, c) => e.send(c, "end", "comment"))).toBe("event: comment\ndata: end\n\n");
  });

  it("orders fields event, id, retry, data", () => {
    expect(framed((e, c) => e.send(c, "x", { retry: 10, id: "7", event: "tick" }))).toBe(
      "event: tick\nid: 7\nretry: 10\ndata: x\n\n",
    );
  });

  it("splits data on CRLF, CR and LF, keeping empty lines", () => {
    expect(framed((e, c) => e.send(c, "a\r\nb\rc\nd"))).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n");
    expect(framed((e, c) => e.send(c, "\n\r\n\r"))).toBe("data: \ndata: \ndata: \ndata: \n\n");
    expect(framed((e, c) => e.send(c, "a\n\nb"))).toBe("data: a\ndata: \ndata: b\n\n");
    expect(framed((e, c) => e.send(c, "\r\r\n"))).toBe("data: \ndata: \ndata: \n\n");
    expect(framed((e, c) => e.send(c, ""))).toBe("data: \n\n");
  });

  it("keeps long data without breaks in one line (the 8-byte scan has no false stops)", () => {
    const long = "abcdefgh".repeat(100) + "\u00e9\u{1f600}";
    expect(framed((e, c) => e.send(c, long))).toBe(`data: ${long}\n\n`);
    const withBreak = "x".repeat(13) + "\n" + "y".repeat(21);
    expect(framed((e, c) => e.send(c, withBreak))).toBe(`data: ${"x".repeat(13)}\ndata: ${"y".repeat(21)}\n\n`);
  });

  it("sends an explicit empty id, distinct from no id", () => {
    expect(framed((e, c) => e.send(c, "x", { id: "" }))).toBe("id: \ndata: x\n\n");
    expect(framed((e, c) => e.send(c, "x", {}))).toBe("data: x\n\n");
  });

  it("sends retry as a non-negative integer, including 0 and 2^53-1", () => {
    expect(framed((e, c) => e.send(c, "x", { retry: 0 }))).toBe("retry: 0\ndata: x\n\n");
    expect(framed((e, c) => e.send(c, "x", { retry: 2 ** 53 - 1 }))).toBe("retry: 9007199254740991\ndata: x\n\n");
  });

  it("frames fields without data, which dispatch nothing", () => {
    expect(framed((e, c) => e.control(c, { retry: 2500 }))).toBe("retry: 2500\n\n");
    expect(framed((e, c) => e.control(c, { id: "9", retry: 1 }))).toBe("id: 9\nretry: 1\n\n");
  });

  it("prefixes every comment line with a colon", () => {
    expect(framed((e, c) => e.comment(c, "hello"))).toBe(": hello\n");
    expect(framed((e, c) => e.comment(c, "a\r\nb\nc\rd"))).toBe(": a\n: b\n: c\n: d\n");
    expect(framed((e, c) => e.comment(c, ""))).toBe(": \n");
  });

  it("sends raw bytes as UTF-8 text lines", () => {
    expect(framed((e, c) => e.send(c, new TextEncoder().encode("é\nü")))).toBe("data: é\ndata: ü\n\n");
  });

  it("remembers the Last-Event-ID it opened with, then the last id sent", () => {
    const e = engine({ maxConnections: 2 });
    const c = e.open("41");
    expect(e.lastEventId(c)).toBe("41");
    e.send(c, "x", { id: "42" });
    expect(e.lastEventId(c)).toBe("42");
    e.send(c, "x", { id: "" });
    expect(e.lastEventId(c)).toBe("");
    expect(e.lastEventId(e.open())).toBeUndefined();
  });

  it("counts events, bytes framed and drained, and remembers retry", () => {
    const e = engine({ maxConnections: 1 });
    const c = e.open();
    const a = e.send(c, "one");
    const b = e.send(c, "two", { retry: 5 });
    e.comment(c, "not an event");
    e.consume(c, a);
    expect(e.stats(c)).toEqual({ events: 2, bytesFramed: a + b + 15, bytesDrained: a, pending: b + 15, retry: 5 });
  });
});

describe("keep-alive", () => {
  it("sends `:\\n` to connections idle past the interval, and only to them", () => {
    const e = engine({ maxConnections: 4, keepAliveMs: 1000 });
    e.tick(0);
    const idle = e.open();
    const busy = e.open();
    expect(e.nextDeadline()).toBe(1000);
    e.tick(600);
    e.send(busy, "x"); // any bytes restart the interval
    e.drain(busy);
    expect(e.tick(999)).toEqual([]);
    expect(e.tick(1000)).toEqual([idle]);
    expect(text(e.drain(idle))).toBe(":\n");
    expect(e.drain(busy).length).toBe(0);
    expect(e.nextDeadline()).toBe(1600);
    expect(e.tick(1600)).toEqual([busy]);
    expect(e.nextDeadline()).toBe(2000);
  });

  it("is off by default, and skips a connection whose space is full", () => {
    expect(engine({ maxConnections: 1 }).nextDeadline()).toBe(Infinity);
    const e = engine({ maxConnections: 1, outBytes: 16, keepAliveMs: 10 });
    const c = e.open();
    e.send(c, "0123456"); // "data: 0123456\n\n": 15 of 16 bytes, so ":\n" cannot fit
    expect(e.tick(10)).toEqual([]); // only a connection that got one is listed (before: [c], counted as a keep-alive sent)
    expect(text(e.drain(c))).toBe("data: 0123456\n\n");
    expect(e.nextDeadline()).toBe(20);
  });
});
