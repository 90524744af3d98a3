// Reads an event stream the way a client would, with eventsource-parser: events, comments and
// retries in arrival order.
import { createParser, type EventSourceMessage } from "eventsource-parser";

export type Item =
  | { kind: "event"; event: string; data: string; id: string | undefined }
  | { kind: "comment"; text: string }
  | { kind: "retry"; ms: number };

export interface Reader {
  readonly items: Item[];
  feed(chunk: Uint8Array | string): void;
  events(): Array<Extract<Item, { kind: "event" }>>;
  comments(): string[];
}

export function reader(onItem?: (item: Item) => void): Reader {
  const items: Item[] = [];
  const push = (item: Item) => {
    items.push(item);
    onItem?.(item);
  };
  const parser = createParser({
    onEvent: (e: EventSourceMessage) => push({ kind: "event", event: e.event ?? "message", data: e.data, id: e.id }),
    onComment: (text) => push({ kind: "comment", text }),
    onRetry: (ms) => push({ kind: "retry", ms }),
  });
  const decoder = new TextDecoder();
  return {
    items,
    feed: (chunk) => parser.feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })),
    events: () => items.filter((i): i is Extract<Item, { kind: "event" }> => i.kind === "event"),
    comments: () => items.filter((i): i is Extract<Item, { kind: "comment" }> => i.kind === "comment").map((i) => i.text),
  };
}

/** GETs `url` with fetch and reads the stream to its end. */
export async function readAll(url: string, headers: Record<string, string> = {}): Promise<{ response: Response; stream: Reader }> {
  const response = await fetch(url, { headers: { Accept: "text/event-stream", ...headers } });
  const stream = reader();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
  return { response, stream };
}

/** Resolves when `predicate` holds, checking every millisecond; rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** An open fetch stream; `ended` tells a clean end of the body from an error. */
export async function openStream(url: string) {
  const response = await fetch(url, { headers: { Accept: "text/event-stream" } });
  const stream = reader();
  let ended: "clean" | "error" | undefined;
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
      ended = "clean";
    } catch {
      ended = "error";
    }
  })();
  return { response, stream, ended: () => ended };
}

/** What an EventSource needs to be read by seenUntilEnd. */
interface Source {
  addEventListener(type: string, listener: (e: MessageEvent) => void): void;
  close(): void;
}

/**
 * The message and comment events an EventSource gets until the server ends the stream, which
 * EventSource reports as an error (it would reconnect): then it is closed.
 */
export async function seenUntilEnd(es: Source, ms = 5000): Promise<Array<{ type: string; data: string }>> {
  const seen: Array<{ type: string; data: string }> = [];
  let ended = false;
  es.addEventListener("message", (e) => seen.push({ type: e.type, data: e.data }));
  es.addEventListener("comment", (e) => seen.push({ type: e.type, data: e.data }));
  es.addEventListener("error", () => {
    if (seen.length > 0) ended = true;
    es.close();
  });
  await until(() => ended, ms, "the end of the stream");
  return seen;
}

/** The seed's counter as EventSource dispatches it: ten {"counter": i} messages, then the comment event. */
export const COUNTER_EVENTS = [
  ...Array.from({ length: 10 }, (_, i) => ({ type: "message", data: JSON.stringify({ counter: i }) })),
  { type: "comment", data: "end" },
];
