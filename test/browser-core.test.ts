// The core in headless Chromium (Debian's, driven by playwright-core), loaded the way a browser
// app loads it: the web entries bundled by esbuild for platform "browser", the .wasm a separate
// file the bundle fetches.
// - A page module imports the browser entry (host/web/browser.ts: compileStreaming + top-level
//   await) and reads sseResponse's body: the same bytes as the same handler's body in Node. The
//   engine entry (bindings/) frames one event as in Node.
// - A module Service Worker imports the web entry (host/web/index.ts: no top-level await, which
//   service workers refuse) and compiles the core itself, once per worker start, before it
//   answers a fetch; it answers the page's EventSource on /events with sseResponse, the
//   reconnect it asks for (retry) included. That reconnect reaches the worker without its
//   Last-Event-ID header (Chromium adds it below the worker): the last test shows it, and the
//   ?lastEventId= query parameter that carries the id instead.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { build } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../bindings/index.js";
import { sseResponse, type WebSse } from "../host/web/index.js";
import { listen, type Running } from "./helpers/listen.js";

const WAIT_MS = 15_000;

// One handler's source, run by the page (inlined in its bundle) and by this process (below): the
// seed's counter (no sleep), its end, a named event with an id, a record with nested values and
// non-ASCII and lone-surrogate strings, multi-line text, and bytes.
const HANDLER = String.raw`async (sse) => {
  for (let i = 0; i < 10; i++) await sse.send({ counter: i });
  await sse.send("end", { event: "comment" });
  await sse.send({ user: "ada", seq: 7 }, { event: "greeting", id: "evt-42" });
  await sse.send({
    nested: { list: [1, -0, 2.5, 1e21, 5e-7, -1.5e-300, null, true, false, { deep: [[[]], {}] }], skipped: undefined, fn() {} },
    text: "héllo wörld — ✓ 😀 中文 \u2028\u2029 \u00a0",
    lone: ["\ud800", "x\udfffy", "\udbff\udc00", "\udc00\ud800"],
    controls: "\u0000\u0007\b\f\n\r\t\u001f\u007f\"\\/",
    when: { toJSON() { return "2024-01-01T00:00:00.000Z"; } },
  }, { event: "record", id: "ïd-✓", retry: 1500 });
  await sse.send("first line\nsecond line\r\nthird line\rfourth: ünïcode ✓\n\nafter a blank");
  await sse.send("a lone \ud800 in text", { event: "text" });
  await sse.send(new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73, 0xe2, 0x9c, 0x93]), { event: "bytes" });
  await sse.comment("done");
}`;

// The event the page's Engine (the engine entry) frames, and this process's too.
const ENGINE_EVENT = String.raw`[{ engine: "one", list: [1, "✓", "\ud800", { a: null }] }, { event: "framed", id: "7" }]`;

// Bundled with the browser entry; the result is left on window for the test.
const PAGE_MODULE = `
import { sseResponse } from "./host/web/browser.ts";
import { Engine } from "./bindings/index.ts";

const handler = ${HANDLER};

async function run() {
  const response = sseResponse(new Request("/x", { headers: { accept: "text/event-stream" } }), handler);
  const stream = new Uint8Array(await response.arrayBuffer());
  const engine = await Engine.load(await WebAssembly.compileStreaming(fetch("/build/sse.wasm")));
  const conn = engine.open();
  engine.send(conn, ...${ENGINE_EVENT});
  const framed = engine.drain(conn);
  return { status: response.status, contentType: response.headers.get("content-type"), stream: Array.from(stream), framed: Array.from(framed) };
}

run().then((result) => { window.coreResult = result; }, (error) => { window.coreResult = { error: String(error && error.stack || error) }; });
`;

// The Service Worker: the web entry (no top-level await, which service workers refuse). The core
// is compiled from the same .wasm, at most once per worker start: install waits for it (a worker
// that cannot load it is never activated) and every fetch answer waits for it (a worker the
// browser stopped and started again compiles it anew, as its globals are gone).
const SW_MODULE = `
import { initCore, sseResponse } from "./host/web/index.ts";

self.swErrors = [];
self.swSaw = [];
let ready;
function core() {
  ready ??= WebAssembly.compileStreaming(fetch(new URL("/build/sse.wasm", self.location.href))).then(initCore, (error) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

// The first stream: the counter with ids, its end, a named event with an id, a record,
// multi-line text; then it ends and EventSource reconnects (retry: 50). Every later stream
// says which Last-Event-ID its handler got.
let streams = 0;
async function handler(sse) {
  if (++streams > 1) {
    await sse.send({ lastEventId: sse.lastEventId ?? null }, { event: "resumed", id: "11" });
    await sse.send("bye", { event: "done" });
    return;
  }
  for (let i = 0; i < 10; i++) await sse.send({ counter: i }, i === 0 ? { id: "0", retry: 50 } : { id: String(i) });
  await sse.send("end", { event: "comment" });
  await sse.send({ from: "sw", text: "héllo ✓ 😀", lone: "\\ud800", deep: { a: [1, { b: null }] } }, { event: "greeting", id: "10" });
  await sse.send("line one\\nline two\\r\\nline three");
}

self.addEventListener("install", (event) => event.waitUntil(core().then(() => self.skipWaiting())));
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.pathname !== "/events" && url.pathname !== "/net-events") return;
  self.swSaw.push([url.pathname + url.search, event.request.headers.get("last-event-id")]);
  if (url.pathname !== "/events") return; // to the network
  const onError = (error) => {
    self.swErrors.push(String(error && error.stack || error));
    console.error(error);
  };
  event.respondWith(core().then(() => sseResponse(event.request, handler, { keepAliveMs: 0, onError })));
});
`;

// Registers the worker and waits until it controls the page. Then: an EventSource on /events
// (answered by the worker), closed once its reconnect said "done"; one on
// /events?lastEventId=<its last id>; and one on /net-events, which the worker leaves to the
// server, closed after its reconnect's event.
const SW_PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
  window.swEvents = [];
  window.netIds = [];
  const until = (url, last) => new Promise((resolve) => {
    const source = new EventSource(url);
    const seen = (e) => window.swEvents.push({ url, type: e.type, data: e.data, lastEventId: e.lastEventId });
    source.onmessage = seen;
    for (const type of ["comment", "greeting", "resumed"]) source.addEventListener(type, seen);
    source.addEventListener("done", (e) => { seen(e); source.close(); resolve(e.lastEventId); });
  });
  try {
    await navigator.serviceWorker.register("/sw.js", { type: "module", scope: "/" });
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true }));
    window.swControlled = navigator.serviceWorker.controller !== null;
    const last = await until("/events");
    await until("/events?lastEventId=" + encodeURIComponent(last));
    await new Promise((resolve) => {
      const source = new EventSource("/net-events");
      source.onmessage = (e) => {
        window.netIds.push(e.lastEventId);
        if (window.netIds.length === 2) { source.close(); resolve(); }
      };
    });
    window.swDone = true;
  } catch (error) {
    window.swFailed = String(error && error.stack || error);
  }
</script>`;

const CORE_PAGE = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/app/web/page.js"></script>`;

let browser: Browser | undefined;
let running: Running | undefined;
/** What the server got: requests for /events (the worker answers those: none expected), and the Last-Event-ID of each /net-events request. */
const eventsHits: string[] = [];
const netLastEventIds: Array<string | null> = [];

async function bundle(contents: string): Promise<string> {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), sourcefile: "entry.js", loader: "js" },
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    target: "es2022",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Console errors and uncaught exceptions of a page (and of the workers its context reports). */
function watchErrors(context: BrowserContext, page: Page): string[] {
  const errors: string[] = [];
  context.on("console", (msg) => void (msg.type() === "error" && errors.push(`console: ${msg.text()}`)));
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

beforeAll(async () => {
  // The page bundle is served at /app/web/page.js: the browser entry's
  // new URL("../../build/sse.wasm", import.meta.url), kept as is by esbuild, is /build/sse.wasm.
  const [pageJs, swJs] = await Promise.all([bundle(PAGE_MODULE), bundle(SW_MODULE)]);
  const wasm = readFileSync(new URL("../build/sse.wasm", import.meta.url));
  const files: Record<string, [string, string | Uint8Array]> = {
    "/": ["text/html; charset=utf-8", CORE_PAGE],
    "/sw.html": ["text/html; charset=utf-8", SW_PAGE],
    "/app/web/page.js": ["text/javascript; charset=utf-8", pageJs],
    "/sw.js": ["text/javascript; charset=utf-8", swJs],
    "/build/sse.wasm": ["application/wasm", wasm],
  };
  running = await listen(createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    if (path === "/events") eventsHits.push(req.url ?? "");
    if (path === "/net-events") {
      netLastEventIds.push(req.headers["last-event-id"]?.toString() ?? null);
      const id = `n${netLastEventIds.length}`;
      return void res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" }).end(`retry: 50\nid: ${id}\ndata: ${id}\n\n`);
    }
    const file = files[path];
    if (file === undefined) return void res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    res.writeHead(200, { "Content-Type": file[0], "Cache-Control": "no-store" }).end(file[1]);
  }));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    timeout: WAIT_MS,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

/** The handler's body as this process gives it (the web entry under Node). */
async function nodeStream(): Promise<Uint8Array> {
  const handler = new Function(`return (${HANDLER});`)() as (sse: WebSse) => Promise<void>;
  const response = sseResponse(new Request("http://127.0.0.1/x", { headers: { accept: "text/event-stream" } }), handler);
  return new Uint8Array(await response.arrayBuffer());
}

async function nodeFramed(): Promise<Uint8Array> {
  const engine = await Engine.load(readFileSync(new URL("../build/sse.wasm", import.meta.url)));
  const conn = engine.open();
  const [data, options] = new Function(`return (${ENGINE_EVENT});`)() as [unknown, { event: string; id: string }];
  engine.send(conn, data, options);
  return engine.drain(conn);
}

describe("the core in Chromium", () => {
  it("page module: the browser entry's sseResponse body and Engine's frame are Node's, byte for byte", async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const errors = watchErrors(context, page);
      await page.goto(running!.url, { timeout: WAIT_MS });
      await page.waitForFunction(() => (window as unknown as { coreResult?: unknown }).coreResult !== undefined, undefined, { timeout: WAIT_MS });
      const result = await page.evaluate(() => (window as unknown as { coreResult: { error?: string; status: number; contentType: string | null; stream: number[]; framed: number[] } }).coreResult);
      expect(result.error).toBeUndefined();
      expect(result.status).toBe(200);
      expect(result.contentType).toBe("text/event-stream");

      const expected = await nodeStream();
      const text = new TextDecoder().decode(expected);
      // Not vacuous: Node's stream is the one the handler describes.
      expect(text.startsWith('data: {"counter":0}\n\ndata: {"counter":1}\n\n')).toBe(true);
      expect(text).toContain('data: {"counter":9}\n\nevent: comment\ndata: end\n\nevent: greeting\nid: evt-42\ndata: {"user":"ada","seq":7}\n\n');
      expect(text).toContain(String.raw`"lone":["\ud800","x\udfffy","` + "\u{10fc00}" + String.raw`","\udc00\ud800"]`);
      expect(text).toContain("data: first line\ndata: second line\ndata: third line\ndata: fourth: ünïcode ✓\ndata: \ndata: after a blank\n\n");
      expect(text).toContain("event: text\ndata: a lone \ufffd in text\n\n");
      expect(text.endsWith(": done\n")).toBe(true);
      expect(new TextDecoder().decode(new Uint8Array(result.stream))).toBe(text);
      expect(result.stream).toEqual(Array.from(expected));

      const framed = await nodeFramed();
      expect(new TextDecoder().decode(framed)).toBe('event: framed\nid: 7\ndata: {"engine":"one","list":[1,"✓","\\ud800",{"a":null}]}\n\n');
      expect(result.framed).toEqual(Array.from(framed));
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("service worker: a module worker answers the page's EventSource with sseResponse (types, data, lastEventId), reconnects included", async () => {
    const state = await swRun();
    expect({ failed: state.failed, controlled: state.controlled, eventsHits, workerErrors: state.workerErrors, errors: state.errors })
      .toEqual({ failed: undefined, controlled: true, eventsHits: [], workerErrors: [], errors: [] });
    const expected: Array<{ url: string; type: string; data: string; lastEventId: string }> = [];
    const at = (url: string, type: string, data: string, lastEventId: string) => expected.push({ url, type, data, lastEventId });
    for (let i = 0; i < 10; i++) at("/events", "message", JSON.stringify({ counter: i }), String(i));
    at("/events", "comment", "end", "9");
    at("/events", "greeting", JSON.stringify({ from: "sw", text: "héllo ✓ 😀", lone: "\ud800", deep: { a: [1, { b: null }] } }), "10");
    at("/events", "message", "line one\nline two\nline three", "10");
    // EventSource's own reconnect (retry: 50) reached the worker too; see the next test for
    // the Last-Event-ID it did not carry.
    at("/events", "resumed", JSON.stringify({ lastEventId: null }), "11");
    at("/events", "done", "bye", "11");
    at("/events?lastEventId=11", "resumed", JSON.stringify({ lastEventId: "11" }), "11");
    at("/events?lastEventId=11", "done", "bye", "11");
    expect(state.events).toEqual(expected);
    expect(state.done).toBe(true);
  });

  // A limitation of Chromium, not of wasm-sse (checked with Chromium 156): the Last-Event-ID
  // header an EventSource reconnect sends is added below the service worker. The server gets it
  // when the worker lets the request through; the worker's FetchEvent.request has no such
  // header, so sse.lastEventId is undefined there. A page that wants to resume through a worker
  // opens its EventSource again with ?lastEventId=<id> (sse.lastEventId reads that too).
  it("service worker: Chromium's reconnect reaches the worker without Last-Event-ID (the network gets it); ?lastEventId= carries it", async () => {
    const state = await swRun();
    expect(state.done).toBe(true);
    // Through to the server: the reconnect has Last-Event-ID.
    expect(netLastEventIds).toEqual([null, "n1"]);
    expect(state.netIds).toEqual(["n1", "n2"]);
    // What the worker saw of the same requests, and of its own streams' reconnect: no header.
    expect(state.workerSaw).toEqual([
      ["/events", null],
      ["/events", null],
      ["/events?lastEventId=11", null],
      ["/net-events", null],
      ["/net-events", null],
    ]);
  });
});

interface SwState {
  failed?: string;
  controlled?: boolean;
  done?: boolean;
  events: unknown[];
  netIds: string[];
  workerSaw: unknown[];
  workerErrors: string[];
  errors: string[];
}

let swState: Promise<SwState> | undefined;

/** The service-worker page, run once (in its own context) for both tests. */
function swRun(): Promise<SwState> {
  swState ??= (async () => {
    const context = await browser!.newContext();
    try {
      const page = await context.newPage();
      const errors = watchErrors(context, page);
      await page.goto(`${running!.url}/sw.html`, { timeout: WAIT_MS });
      await page.waitForFunction(() => {
        const w = window as unknown as { swDone?: boolean; swFailed?: string };
        return w.swDone === true || w.swFailed !== undefined;
      }, undefined, { timeout: WAIT_MS }).catch(() => undefined); // what did arrive is checked by the tests
      const state = await page.evaluate(() => {
        const w = window as unknown as { swFailed?: string; swControlled?: boolean; swDone?: boolean; swEvents: unknown[]; netIds: string[] };
        return { failed: w.swFailed, controlled: w.swControlled, done: w.swDone, events: w.swEvents, netIds: w.netIds };
      });
      const worker = context.serviceWorkers()[0];
      const fromWorker = worker === undefined
        ? { workerSaw: [], workerErrors: ["no service worker in the context"] }
        : await worker.evaluate(() => {
            const w = self as unknown as { swSaw: unknown[]; swErrors: string[] };
            return { workerSaw: w.swSaw, workerErrors: w.swErrors };
          });
      return { ...state, ...fromWorker, errors };
    } finally {
      await context.close();
    }
  })();
  return swState;
}
