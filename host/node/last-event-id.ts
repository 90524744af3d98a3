// Where a reconnecting client left off. EventSource sends the Last-Event-ID header; a client
// that cannot set headers may put it in the `lastEventId` query parameter. The header wins.
//
// Node hands header values over as latin1 (one char per byte), but EventSource sends the id
// as UTF-8: the bytes are decoded again, so an id like "é" matches the one that was sent, and
// bytes that are not UTF-8 are refused (such an id was never sent by this server).

export type LastEventId = { id: string | undefined } | { refused: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const QUERY = "lastEventId";

export function lastEventIdOf(header: string | undefined, url: string | undefined): LastEventId {
  if (header !== undefined) return fromHeader(header);
  return { id: fromQuery(url) };
}

function fromHeader(value: string): LastEventId {
  if (/^[\x00-\x7f]*$/.test(value)) return { id: value };
  // A char above U+00FF means the value is already decoded text (not bytes): keep it.
  if (/[^\x00-\xff]/.test(value)) return { id: value };
  try {
    return { id: utf8.decode(Buffer.from(value, "latin1")) };
  } catch {
    return { refused: "the Last-Event-ID header is not UTF-8" };
  }
}

function fromQuery(url: string | undefined): string | undefined {
  const q = url?.indexOf("?") ?? -1;
  if (q < 0) return undefined;
  return new URLSearchParams(url!.slice(q + 1)).get(QUERY) ?? undefined;
}
