// What the spec says the bytes must be, written without the engine: a reference framer for
// the README's output form, a reference reader of the JSON value tape (whose strings and
// numbers are serialised by JSON.stringify itself), and a decoder that runs the bytes
// through eventsource-parser, as a browser would read them.
import { createParser } from "eventsource-parser";
import {
  MAX_DEPTH, TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STR8, TAG_STR16, TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT,
  TAG_OBJECT_END, TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS,
} from "../../assembly/abi.js";

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits on CRLF, CR or LF ("Lines must be separated by either…"); "" is one empty line. */
export function lines(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0x0a && b[i] !== 0x0d) continue;
    out.push(b.subarray(start, i));
    if (b[i] === 0x0d && b[i + 1] === 0x0a) i++;
    start = i + 1;
  }
  out.push(b.subarray(start));
  return out;
}

export interface FrameParts {
  event?: Uint8Array;
  id?: Uint8Array;
  retry?: number;
  /** Text data (one `data:` line per line), a JSON text (one line), or none. */
  data?: { text: Uint8Array } | { json: string };
}

/** `name: value` lines with LF ends, in the order event, id, retry, data; then the blank line. */
export function frame(p: FrameParts): Uint8Array {
  const parts: Uint8Array[] = [];
  if (p.event) parts.push(utf8("event: "), p.event, utf8("\n"));
  if (p.id) parts.push(utf8("id: "), p.id, utf8("\n"));
  if (p.retry !== undefined) parts.push(utf8(`retry: ${p.retry}\n`));
  if (p.data && "text" in p.data) for (const l of lines(p.data.text)) parts.push(utf8("data: "), l, utf8("\n"));
  if (p.data && "json" in p.data) parts.push(utf8(`data: ${p.data.json}\n`));
  parts.push(utf8("\n"));
  return concat(parts);
}

export function commentFrame(text: Uint8Array): Uint8Array {
  return concat(lines(text).flatMap((l) => [utf8(": "), l, utf8("\n")]));
}

export const KEEP_ALIVE = utf8(":\n");

/**
 * The JSON text a value tape stands for (format: assembly/json.ts), or undefined if the
 * tape is malformed. Leaves are serialised by JSON.stringify; this reader only walks shape.
 * `shapes` are the key lists defined so far (tag 0x0C names one by its index); `staging`,
 * all of it as the call sees it, holds the text of strings kept there (tag 0x0E).
 */
export function tapeToJson(tape: Uint8Array, shapes: readonly string[][] = [], staging?: Uint8Array): string | undefined {
  const view = new DataView(tape.buffer, tape.byteOffset, tape.byteLength);
  const utf8Strict = new TextDecoder("utf-8", { fatal: true });
  let p = 0;
  const str = (utf16: boolean): string | undefined => {
    if (tape.length - p < 4) return undefined;
    const count = view.getUint32(p, true);
    p += 4;
    const size = utf16 ? count * 2 : count;
    if (size > tape.length - p) return undefined;
    let s: string;
    if (utf16) s = String.fromCharCode(...Array.from({ length: count }, (_, i) => view.getUint16(p + 2 * i, true)));
    else s = utf8Strict.decode(tape.subarray(p, p + size));
    p += size;
    return JSON.stringify(s);
  };
  const value = (depth: number): string | undefined => {
    if (p >= tape.length) return undefined;
    const tag = tape[p++]!;
    switch (tag) {
      case TAG_NULL: return "null";
      case TAG_FALSE: return "false";
      case TAG_TRUE: return "true";
      case TAG_NUMBER: {
        if (tape.length - p < 8) return undefined;
        const x = view.getFloat64(p, true);
        p += 8;
        return JSON.stringify(x);
      }
      case TAG_INT32: {
        if (tape.length - p < 4) return undefined;
        const x = view.getInt32(p, true);
        p += 4;
        return JSON.stringify(x);
      }
      case TAG_STR8: return str(false);
      case TAG_STR16: return str(true);
      case TAG_STR_AT: {
        if (staging === undefined || tape.length - p < 8) return undefined;
        const at = view.getUint32(p, true);
        const count = view.getUint32(p + 4, true);
        p += 8;
        if (at > staging.length || count > staging.length - at) return undefined;
        return JSON.stringify(utf8Strict.decode(staging.subarray(at, at + count)));
      }
      case TAG_SHAPE: {
        // An object of a defined shape: its keys come from the table, one value or skip (0x0D)
        // each, or a run of skips (0x10, count ≥ 1) for as many members.
        if (depth === MAX_DEPTH || tape.length - p < 2) return undefined;
        const keys = shapes[view.getUint16(p, true)];
        p += 2;
        if (!keys) return undefined;
        const members: string[] = [];
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          if (p >= tape.length) return undefined;
          if (tape[p] === TAG_SKIP) {
            p++;
            continue;
          }
          if (tape[p] === TAG_SKIPS) {
            const count = tape[p + 1];
            if (count === undefined || count === 0 || count > keys.length - i) return undefined;
            p += 2;
            i += count - 1;
            continue;
          }
          const v = value(depth + 1);
          if (v === undefined) return undefined;
          members.push(`${JSON.stringify(k)}:${v}`);
        }
        return `{${members.join(",")}}`;
      }
      case TAG_ARRAY: case TAG_OBJECT: {
        if (depth === MAX_DEPTH) return undefined;
        const isObject = tag === TAG_OBJECT;
        const items: string[] = [];
        while (true) {
          if (p >= tape.length) return undefined;
          const next = tape[p]!;
          if (next === (isObject ? TAG_OBJECT_END : TAG_ARRAY_END)) {
            p++;
            return isObject ? `{${items.join(",")}}` : `[${items.join(",")}]`;
          }
          let key = "";
          if (isObject) {
            if (next !== TAG_KEY8 && next !== TAG_KEY16) return undefined;
            p++;
            const k = str(next === TAG_KEY16);
            if (k === undefined) return undefined;
            key = `${k}:`;
          }
          const v = value(depth + 1);
          if (v === undefined) return undefined;
          items.push(key + v);
        }
      }
      default: return undefined; // unknown tags, and ends or keys where a value belongs
    }
  };
  const text = value(0);
  return text !== undefined && p === tape.length ? text : undefined;
}

/** What a reader of the stream observes, in order. */
export type Observed =
  | { kind: "event"; event: string; id: string | undefined; data: string }
  | { kind: "retry"; ms: number }
  | { kind: "comment"; text: string };

/** Decodes a stream as an EventSource would: UTF-8 (with replacement), then the event-stream parser. */
export function observe(stream: Uint8Array, chunkSizes: number[]): Observed[] {
  const seen: Observed[] = [];
  const parser = createParser({
    // The spec: an empty or absent event type is "message".
    onEvent: (e) => seen.push({ kind: "event", event: e.event || "message", id: e.id, data: e.data }),
    onRetry: (ms) => seen.push({ kind: "retry", ms }),
    onComment: (text) => seen.push({ kind: "comment", text }),
  });
  const decoder = new TextDecoder();
  let at = 0;
  for (let i = 0; at < stream.length; i++) {
    const n = chunkSizes[i % chunkSizes.length]!;
    parser.feed(decoder.decode(stream.subarray(at, at + n), { stream: true }));
    at += n;
  }
  parser.feed(decoder.decode());
  return seen;
}

/** The value JSON.parse must give back for `v`: non-finite numbers become null, -0 becomes 0. */
export function jsonImage(v: unknown): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? (Object.is(v, -0) ? 0 : v) : null;
  if (Array.isArray(v)) return v.map(jsonImage);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonImage(x)]));
  }
  return v;
}
