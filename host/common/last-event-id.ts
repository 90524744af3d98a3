// Where a reconnecting client left off. EventSource sends the Last-Event-ID header; a client
// that cannot set headers may put it in the `lastEventId` query parameter. The header wins.
//
// Both say the same bytes, so one rule takes them: the header's value, or the parameter's once
// percent-decoded (strictly: a `%` without two hex digits is refused, not kept), must be UTF-8.
// Node hands header values over as latin1 (one char per byte), but EventSource sends the id
// as UTF-8: the bytes are decoded again, so an id like "é" matches the one that was sent, and
// bytes that are not UTF-8 are refused (such an id was never sent by this server). What the
// core refuses of a decoded id (CR, LF, NUL, over 256 bytes) it refuses from either.

export type LastEventId = { id: string | undefined } | { refused: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const QUERY = "lastEventId";

export function lastEventIdOf(header: string | undefined, url: string | undefined): LastEventId {
  if (header !== undefined) return fromHeader(header);
  return fromQuery(url);
}

function fromHeader(value: string): LastEventId {
  const id = utf8Of(value);
  return id === undefined ? { refused: "the Last-Event-ID header is not UTF-8" } : { id };
}

/** The first `lastEventId` parameter, as URLSearchParams finds it but decoded strictly. */
function fromQuery(url: string | undefined): LastEventId {
  const q = url?.indexOf("?") ?? -1;
  if (q < 0) return { id: undefined };
  for (const pair of url!.slice(q + 1).split("&")) {
    const eq = pair.indexOf("=");
    if (formDecode(eq < 0 ? pair : pair.slice(0, eq)) !== QUERY) continue;
    const id = formDecode(eq < 0 ? "" : pair.slice(eq + 1));
    return id === undefined ? { refused: "the lastEventId query parameter is not percent-encoded UTF-8" } : { id };
  }
  return { id: undefined };
}

/** application/x-www-form-urlencoded text; undefined for a malformed escape or bytes that are not UTF-8. */
function formDecode(text: string): string | undefined {
  const raw = utf8Of(text.replaceAll("+", " "));
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw); // throws URIError on a bad escape or escaped bytes that are not UTF-8
  } catch {
    return undefined;
  }
}

/** Latin1 text (one char a byte) read again as UTF-8; undefined if those bytes are not UTF-8. */
function utf8Of(value: string): string | undefined {
  if (/^[\x00-\x7f]*$/.test(value)) return value;
  // A char above U+00FF means the value is already decoded text (not bytes): keep it.
  if (/[^\x00-\xff]/.test(value)) return value;
  try {
    return utf8.decode(latin1Bytes(value));
  } catch {
    return undefined;
  }
}

function latin1Bytes(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i);
  return bytes;
}
