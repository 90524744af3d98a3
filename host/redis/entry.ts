// An event as a Redis stream entry, and back. The publisher frames the event once to check it
// (typed errors, frame size with the longest id) and stores what every process frames again
// under the entry's id: a string as it was, bytes as they were, a JSON value as its text (the
// core's, byte-identical to JSON.stringify). Framed again, each gives the publisher's bytes.
//
// Fields: t (kind: s string, b bytes, j JSON text), d (the data), e (event name), r (retry ms).
import { isUint8Array } from "../../bindings/brands.js";
import type { SendOptions } from "../../bindings/index.js";

export interface Entry {
  readonly id: string;
  /** What the core frames: a string, or bytes sent as text. */
  readonly frameData: string | Uint8Array;
  /** What filters see: the string, the bytes, or the parsed JSON value. */
  readonly data: unknown;
  readonly options: SendOptions;
}

export type Field = string | Uint8Array;

/** The XADD fields for an event whose checked frame (with a JSON value's text last) is `frame`. */
export function fieldsOf(data: unknown, options: SendOptions, frame: Uint8Array): Field[] {
  const fields: Field[] = typeof data === "string" ? ["t", "s", "d", data] : isUint8Array(data) ? ["t", "b", "d", data] : ["t", "j", "d", jsonText(frame)];
  if (options.event !== undefined) fields.push("e", String(options.event));
  if (options.retry !== undefined) fields.push("r", String(options.retry));
  return fields;
}

/** A JSON value's frame ends with its one data line, "data: <text>\n\n" (JSON text has no line breaks). */
function jsonText(frame: Uint8Array): Uint8Array {
  const end = frame.length - 2;
  const line = frame.lastIndexOf(0x0a, end - 1) + 1;
  return frame.subarray(line + "data: ".length, end);
}

const utf8 = new TextDecoder();

/** A field name or kind as its one byte (0 when longer: none of ours); read per event, so compared, not decoded. */
function letterOf(bytes: Uint8Array): number {
  return bytes.length === 1 ? bytes[0]! : 0;
}

/** Our field names (t, d, e, r) and kinds (s, b, j). */
const [T, D, E, R, S, B, J] = Array.from("tdersbj", (c) => c.charCodeAt(0));

/** The entry `id` with fields [name, value, …] as Redis returned them (bytes); undefined if it is not one of ours. */
export function entryOf(id: string, fields: readonly Uint8Array[], record: boolean): Entry | undefined {
  let kind = 0;
  let raw: Uint8Array | undefined;
  const options: SendOptions = record ? { id } : { record: false };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = letterOf(fields[i]!);
    const value = fields[i + 1]!;
    if (name === T) kind = letterOf(value);
    else if (name === D) raw = value;
    else if (name === E) options.event = utf8.decode(value);
    else if (name === R) options.retry = Number(utf8.decode(value));
  }
  if (raw === undefined) return undefined;
  if (kind === S) {
    const text = utf8.decode(raw);
    return { id, frameData: text, data: text, options };
  }
  if (kind === B) {
    // A plain Uint8Array over the client's Buffer, so filters see bytes as send() was given them.
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    return { id, frameData: bytes, data: bytes, options };
  }
  if (kind === J) return { id, frameData: raw, data: JSON.parse(utf8.decode(raw)), options };
  return undefined;
}
