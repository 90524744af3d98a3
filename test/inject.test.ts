// Event injection through the whole Node stack: a million random events — every line break,
// NUL, BOM, astral and lone surrogates, text that looks like fields — go through withSse on
// node:http and a real socket, and eventsource-parser must decode exactly the events sent:
// no extra event, field, id or retry, line breaks normalised to LF, lone surrogates as U+FFFD.
// Sender and checker draw the same events from the same seed, so nothing is kept in memory.
import { get } from "node:http";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterEach, expect, it } from "vitest";
import { withSse, type Sse } from "../host/index.js";
import { serve, type Running } from "./helpers/listen.js";
import { rng } from "./support/wasm.js";

const EVENTS = 1_000_000;
const SEED = 0x1e7ec7;

const PIECES = [
  "\r\n", "\r", "\n", "\n\n", "\r\r", "\r\n\r\n", "\0", "\uFEFF", "😀", "\u{10FFFF}", "\ud800", "\udfff", "\udbff\udbff",
  "\ndata: x\nid: 9\n\n", "\r\nevent: evil\r\n", "\nretry: 1\n", "data:", "id: 1", "event: e", ":", ": comment", " ",
  "  lead", "é", "中文", "\u2028", "\u0085", "\t", "\x7f", "abc", "plain words ", '{"json":1}',
];

interface Planned {
  data: unknown;
  options: { event?: string; id?: string; retry?: number } | string;
  /** What a conformant client must decode. */
  want: { data: string; event: string | undefined; id: string | undefined; retry: number | undefined };
}

const normalised = (s: string) => s.toWellFormed().replace(/\r\n|\r/g, "\n");

function randomText(next: () => number, maxPieces: number, refuse?: RegExp): string {
  let s = "";
  const n = Math.floor(next() * (maxPieces + 1));
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(next() * PIECES.length)];
  return refuse === undefined ? s : s.replace(refuse, "");
}

function randomJson(next: () => number): unknown {
  return {
    n: Math.floor(next() * 1e9) - 5e8,
    x: next() * 1e6,
    text: randomText(next, 4),
    list: [randomText(next, 2), next() < 0.5, null, [next()]],
    nested: { deeper: { s: randomText(next, 2) } },
  };
}

/** The i-th random event of the stream seeded with `seed`; the same seed replays the same events. */
function plan(seed: number): () => Planned {
  const next = rng(seed);
  return () => {
    const kind = next();
    let data: unknown;
    let wantData: string;
    if (kind < 0.1) {
      data = randomJson(next);
      wantData = JSON.stringify(data);
    } else if (kind < 0.15) {
      const text = randomText(next, 8);
      data = new TextEncoder().encode(text);
      wantData = normalised(text);
    } else {
      data = randomText(next, 10);
      wantData = normalised(data as string);
    }
    const event = next() < 0.5 ? randomText(next, 3, /[\r\n]/g) : undefined;
    const id = next() < 0.5 ? randomText(next, 3, /[\r\n\0]/g) : undefined;
    const retry = next() < 0.02 ? Math.floor(next() * 100_000) : undefined;
    const useShorthand = event !== undefined && id === undefined && retry === undefined && next() < 0.5;
    const options = useShorthand ? event : { ...(event !== undefined && { event }), ...(id !== undefined && { id }), ...(retry !== undefined && { retry }) };
    return {
      data,
      options,
      // An empty event type means "message", which the parser reports as no type.
      want: { data: wantData, event: event ? event.toWellFormed() : undefined, id: id?.toWellFormed(), retry },
    };
  };
}

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

it(`decodes ${EVENTS} random events sent through withSse on node:http exactly as sent`, async () => {
  const failures: unknown[] = [];
  running = await serve(
    withSse(
      async (_req, sse: Sse) => {
        const nextEvent = plan(SEED);
        for (let i = 0; i < EVENTS; i++) {
          const e = nextEvent();
          await sse.send(e.data, e.options);
        }
      },
      { keepAliveMs: 0, onError: (error) => failures.push(error) },
    ),
  );

  const expected = plan(SEED);
  const mismatches: unknown[] = [];
  let events = 0;
  let ids = 0;
  let idsWanted = 0;
  let retries = 0;
  let bytes = 0;
  let pendingRetry: number | undefined;
  const extras: string[] = [];
  const parser = createParser({
    onEvent: (got: EventSourceMessage) => {
      const want = events < EVENTS ? expected().want : undefined;
      events++;
      if (want?.id !== undefined) idsWanted++;
      const same = want !== undefined && got.data === want.data && got.event === want.event && got.id === want.id && pendingRetry === want.retry;
      if (!same && mismatches.length < 5) mismatches.push({ index: events - 1, got: { ...got, retry: pendingRetry }, want });
      pendingRetry = undefined;
    },
    onId: () => ids++,
    onRetry: (ms) => {
      retries++;
      if (pendingRetry !== undefined) extras.push(`a second retry before event ${events}`);
      pendingRetry = ms;
    },
    onComment: (text) => extras.push(`comment ${JSON.stringify(text)} before event ${events}`),
    onError: (error) => extras.push(`${error.type} ${JSON.stringify(error.field)} before event ${events}`),
  });

  const started = performance.now();
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const req = get(`${running!.url}/`, { headers: { Accept: "text/event-stream" }, agent: false }, (res) => {
      const decoder = new TextDecoder();
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        parser.feed(decoder.decode(chunk, { stream: true }));
      });
      res.on("end", () => resolve(res.statusCode));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `inject: ${events} events, ${bytes} bytes, ${ids} ids, ${retries} retries decoded in ${seconds.toFixed(1)} s; ` +
      `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );

  expect(status).toBe(200);
  expect(failures).toEqual([]);
  expect(mismatches).toEqual([]);
  expect(extras).toEqual([]);
  expect(events).toBe(EVENTS);
  expect(ids).toBe(idsWanted);
  expect(pendingRetry).toBeUndefined();
});
