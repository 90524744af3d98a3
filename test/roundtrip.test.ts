// Property: whatever text, name and id a sender gives, a spec-conformant parser reading the
// bytes (eventsource-parser, fed in any chunking) gets back exactly that event, with line
// breaks normalised to LF and lone surrogates replaced as any UTF-8 stream replaces them.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { expect, it } from "vitest";
import { BufferFullError, type Engine } from "../bindings/index.js";
import { engine, rng } from "./support/wasm.js";

const EVENTS = 100_000;

// Pieces that stress the framing: every line break, NUL, BOM, astral and lone surrogates,
// field-like text, colons and leading spaces.
const PIECES = [
  "\r\n", "\r", "\n", "\n\n", "\r\r", "\0", "\uFEFF", "😀", "\u{10FFFF}", "\ud800", "\udfff", "\udbff\udbff",
  "data: x", "id: 1", "event: e", "retry: 9", ":", " ", "  lead", "é", "中文", "\u2028", "\t", "\x7f", "abc",
  "plain words ", "{\"json\":1}",
];

function randomText(next: () => number, maxPieces: number, refuse: RegExp): string {
  let s = "";
  const n = Math.floor(next() * maxPieces);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return s.replace(refuse, "");
}

/** What UTF-8 transport does to a string: lone surrogates become U+FFFD. */
const wellFormed = (s: string) => s.toWellFormed();

interface Sent { data: string; event?: string; id?: string }

/** Drains with a rotating granularity: everything, random chunks, or byte by byte. */
function drainInto(e: Engine, conn: number, feed: (bytes: Uint8Array) => void, mode: number, next: () => number) {
  for (;;) {
    const view = e.pending(conn);
    if (view.length === 0) return;
    const n = mode === 0 ? view.length : mode === 1 ? 1 + Math.floor(next() * Math.min(view.length, 97)) : 1;
    feed(view.slice(0, n));
    e.consume(conn, n);
  }
}

it(`round-trips ${EVENTS} random events through eventsource-parser at every drain granularity`, () => {
  const next = rng(0x5eed);
  const e = engine({ maxConnections: 1, outBytes: 8192 });
  const conn = e.open();
  const received: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (m) => received.push(m) });
  const decoder = new TextDecoder();
  const feed = (bytes: Uint8Array) => parser.feed(decoder.decode(bytes, { stream: true }));

  const sent: Sent[] = [];
  let drains = 0;
  for (let i = 0; i < EVENTS; i++) {
    const ev: Sent = { data: randomText(next, 12, /(?!)/g) };
    if (next() < 0.5) ev.event = randomText(next, 4, /[\r\n]/g);
    if (next() < 0.5) ev.id = randomText(next, 4, /[\r\n\0]/g);
    try {
      e.send(conn, ev.data, ev);
    } catch (err) {
      if (!(err instanceof BufferFullError)) throw err;
      drainInto(e, conn, feed, drains++ % 8 === 7 ? 2 : drains % 2, next);
      e.send(conn, ev.data, ev);
    }
    sent.push(ev);
  }
  drainInto(e, conn, feed, 0, next);

  expect(received.length).toBe(sent.length);
  for (let i = 0; i < sent.length; i++) {
    const want = sent[i]!;
    const got = received[i]!;
    const wanted = {
      data: wellFormed(want.data).replace(/\r\n|\r/g, "\n"),
      // An empty event type means "message", which the parser reports as no type.
      event: want.event ? wellFormed(want.event) : undefined,
      id: want.id === undefined ? undefined : wellFormed(want.id),
    };
    if (got.data !== wanted.data || got.event !== wanted.event || got.id !== wanted.id) {
      expect({ index: i, ...got }).toEqual({ index: i, ...wanted });
    }
  }
  expect(drains).toBeGreaterThan(100); // the drain modes really rotated
});
