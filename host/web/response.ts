// sseResponse(request, handler): the same event stream as withSse, as a fetch-style Response,
// for frameworks built on Web standards (Hono, and any router that returns a Response). The
// handler gets an `sse` object with Microdot's send/sleep; the stream lives as long as it.
//
// Rules
// - A Last-Event-ID the core would refuse (not UTF-8, CR/LF/NUL, over 256 bytes) gets a 400,
//   as withSse's, and uses no slot; the core is given the id it accepts.
// - The stream is the common one (host/common/stream.ts: its rules hold here); the body is its
//   output. Once per turn what the core framed is enqueued on the body in one chunk; the body
//   is full once it holds highWaterMark unread, and a pull is room again. Keep-alives the core
//   frames meanwhile wait in its space (it skips them once that is full) until the body pulls.
// - What a stream holds for a lagging reader (the body's unread bytes, broadcast frames, sends
//   nobody awaits) is bounded by highWaterMark plus max(highWaterMark, maxEventBytes); past
//   it the stream is cut as too slow.
// - A cut (too slow, or stalled for stallTimeoutMs) cancels the handler, frees the slot and
//   errors the body, so the server under it drops the connection instead of keeping its
//   unread bytes.
// - When the reader cancels the body or the request's signal aborts, the handler is cancelled:
//   `sse.signal` aborts and pending and later send()/sleep() reject with CancelledError. The
//   same happens, and the body ends, when the engine under the stream traps.
// - Streams share engines (64 connections each) across every sseResponse of the process that
//   agrees on maxEventBytes and keepAliveMs.
// - Whatever runs later for a stream runs in its own request. On Cloudflare Workers (workerd)
//   a request's timers die with it and its body may be waited on only by its own code: a
//   flush scheduled from another request (a broadcast, a keep-alive tick) or by a stream that
//   has just ended would be lost, and a stream whose request holds no timer is cancelled as
//   hung. So each stream flushes itself after the turn, rung from anywhere through a promise
//   made in its own request (a promise's reactions run in the request that made it), and keeps
//   one timer of its own while open (every keepAliveMs, or stallTimeoutMs without keep-alives;
//   none when both are 0) that revives the pool's keep-alive timer and the stall watch if the
//   request that armed them is over. Node and the others behave the same, a microtask later.
import { InvalidFieldError } from "../../bindings/index.js";
import { CancelledError } from "../common/cancelled-error.js";
import { checkRange } from "../common/check-range.js";
import { resolveCors, type CorsOption } from "../common/cors.js";
import { EnginePool, type Slot } from "../common/engine-pool.js";
import { lastEventIdOf } from "../common/last-event-id.js";
import { refusal, STREAM_HEADERS } from "../common/negotiate.js";
import { own } from "../common/own.js";
import { logError, report } from "../common/report.js";
import { STALL_TIMEOUT_MS, stallWatch, type Progress } from "../common/slow-clients.js";
import { handleOf, type Sse } from "../common/sse.js";
import { SseStream, type StreamPolicy } from "../common/stream.js";
import { MAX_DELAY_MS } from "../common/long-timer.js";
import { afterTurn } from "../common/turn.js";
import { StreamCounters, streamStats, type StreamStats } from "../common/stream-stats.js";

/** The `sse` object a Response handler receives: withSse's, the same API. */
export type WebSse = Sse;

export interface SseResponseOptions {
  /** A `:` comment after this many ms without an event (default 15000; 0: off). */
  keepAliveMs?: number;
  /** The largest event frame (default 64 KiB). */
  maxEventBytes?: number;
  /** Bytes the body may hold unread before send() waits (default 256 KiB). */
  highWaterMark?: number;
  /** A reader that takes no bytes for this many ms while the body is full is cut (default 60000; 0: off). */
  stallTimeoutMs?: number;
  /**
   * Called once with what the handler threw, and once with the WebAssembly.RuntimeError of a
   * engine that trapped; neither reaches the client (default: console.error).
   */
  onError?: (error: unknown) => void;
  /** Which other origins' pages may read the stream (CORS), as withSse's `cors` (an origin function's error goes to onError); default none. */
  cors?: CorsOption;
}

export function sseResponse(request: Request, handler: (sse: WebSse) => unknown, options: SseResponseOptions = {}): Response {
  options = own(options);
  const cors = resolveCors(options.cors, "sseResponse option cors");
  if (cors === undefined) return respond(request, handler, options);
  const header = (name: string) => request.headers.get(name) ?? undefined;
  const failed = (error: unknown) => report(options.onError ?? logError, error);
  if (request.method === "OPTIONS") {
    const preflight = cors.preflight(header("origin"), header("access-control-request-method"), header("access-control-request-headers"), failed);
    if (preflight !== undefined) return new Response(null, { status: 204, headers: preflight });
  }
  // Every answer carries them, refusals too (see cors.ts).
  const response = respond(request, handler, options);
  for (const [name, value] of Object.entries(cors.headers(header("origin"), failed))) response.headers.set(name, value);
  return response;
}

/** What every sseResponse stream did, for sseStats(). */
const counters = new StreamCounters();

/** A snapshot of every sseResponse stream in this process (or isolate): synchronous, nothing allocated per stream. */
export function sseStats(): StreamStats {
  let bytesBuffered = 0;
  let engines = 0;
  let slotsInUse = 0;
  for (const pool of pools.values()) {
    bytesBuffered += pool.bytesBuffered;
    engines += pool.engines;
    slotsInUse += pool.openConnections;
  }
  return streamStats(counters, { bytesBuffered, engines, slotsInUse });
}

function respond(request: Request, handler: (sse: WebSse) => unknown, options: SseResponseOptions): Response {
  const refused = refusal(request.method, request.headers.get("accept") ?? undefined);
  if (refused !== undefined) {
    counters.refuse(refused.status);
    return new Response(refused.message, { status: refused.status, headers: refused.headers });
  }
  const resumed = lastEventIdOf(request.headers.get("last-event-id") ?? undefined, request.url);
  if ("refused" in resumed) return text(400, `Last-Event-ID refused: ${resumed.refused}\n`);
  if (request.method === "HEAD") return new Response(null, { headers: STREAM_HEADERS });
  const maxEventBytes = options.maxEventBytes ?? 64 * 1024;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const highWaterMark = options.highWaterMark ?? 256 * 1024;
  const stallTimeoutMs = options.stallTimeoutMs ?? STALL_TIMEOUT_MS;
  checkRange("sseResponse option keepAliveMs", keepAliveMs, 0, Number.MAX_SAFE_INTEGER, false);
  checkRange("sseResponse option maxEventBytes", maxEventBytes, 16, 0x4000_0000, true);
  checkRange("sseResponse option highWaterMark", highWaterMark, 0, Number.MAX_SAFE_INTEGER, true);
  checkRange("sseResponse option stallTimeoutMs", stallTimeoutMs, 0, Number.MAX_SAFE_INTEGER, false);
  const policy: StreamPolicy = {
    maxBufferedBytes: highWaterMark + Math.max(highWaterMark, maxEventBytes),
    boundName: "highWaterMark",
    stalls: stallWatch(stallTimeoutMs),
    fault: (error) => report(options.onError ?? logError, error),
    counters,
  };
  const pool = poolFor(maxEventBytes, keepAliveMs);
  const periods = [keepAliveMs, stallTimeoutMs].filter((ms) => ms > 0);
  const heartbeatMs = periods.length === 0 ? Infinity : Math.min(MAX_DELAY_MS, ...periods);
  let stream: BodyStream | undefined;
  try {
    stream = pool.open(resumed.id, (slot) => new BodyStream(pool, slot, resumed.id, policy, highWaterMark, heartbeatMs));
  } catch (error) {
    if (!(error instanceof InvalidFieldError)) throw error;
    return text(400, `Last-Event-ID refused: ${error.message}\n`);
  }
  // The engine trapped while opening: it is replaced, the next request gets a fresh one.
  if (stream === undefined) return text(503, "the event stream could not be opened; retry\n", { "Retry-After": "1" });
  stream.watch(request);
  void run(stream, handler, options.onError ?? logError);
  return new Response(stream.body, { headers: STREAM_HEADERS });
}

/** Runs the handler; when it settles, reports what it threw and ends the stream. */
async function run(stream: BodyStream, handler: (sse: WebSse) => unknown, onError: (error: unknown) => void): Promise<void> {
  try {
    await handler(handleOf(stream));
  } catch (error) {
    if (!(error instanceof CancelledError && stream.cancelled)) report(onError, error);
  }
  await stream.end();
}

/** Engines by their configuration: streams share one only if they agree on it. */
const pools = new Map<string, EnginePool>();

function poolFor(maxEventBytes: number, keepAliveMs: number): EnginePool {
  const key = `${maxEventBytes}/${keepAliveMs}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new EnginePool({ maxEventBytes, keepAliveMs, maxConnections: Number.MAX_SAFE_INTEGER, connectionsPerEngine: 64 });
    pools.set(key, pool);
  }
  return pool;
}

/** Connection slots in use by sseResponse streams, over every engine (for tests and stats). */
export function openSlots(): number {
  let open = 0;
  for (const pool of pools.values()) open += pool.openConnections;
  return open;
}

/** A stream whose output is a Response body. */
class BodyStream extends SseStream {
  readonly body: ReadableStream<Uint8Array>;
  private body$!: ReadableStreamDefaultController<Uint8Array>;
  /** Bytes ever enqueued on the body: with its desiredSize, what the reader has taken. */
  private enqueued = 0;
  /** The body is closed, errored or cancelled by its reader: nothing more goes on it. */
  private bodyOver = false;
  /** Resolves this stream's current bell: its reaction runs in the request that made it (see listen). */
  private ring!: () => void;
  /** The request, held while the stream is open (see watch). */
  private request: Request | undefined;
  /** This stream's own timer while it is open (see the rules above); undefined when there is none. */
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  /** Made in the stream's own request (sseResponse runs in it), as everything here that runs later. */
  constructor(pool: EnginePool, slot: Slot, lastEventId: string | undefined, policy: StreamPolicy, private readonly highWaterMark: number, heartbeatMs: number) {
    super(pool, slot, lastEventId, policy);
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.body$ = controller),
        pull: () => this.roomAgain(),
        cancel: () => {
          this.bodyOver = true;
          this.over();
          this.gone();
        },
      },
      { highWaterMark, size: (chunk) => chunk.byteLength },
    );
    this.listen();
    if (heartbeatMs !== Infinity) {
      const heartbeat = setInterval(() => {
        if (this.isDone()) return clearInterval(heartbeat); // cleared from another request, which does nothing on workerd
        this.pool.revive();
        this.policy.stalls?.revive();
      }, heartbeatMs);
      (heartbeat as unknown as { unref?(): void }).unref?.();
      this.heartbeat = heartbeat;
    }
  }

  /**
   * Cancels the handler and ends the body when the request's signal aborts. The request is held
   * while the stream is open: a signal of the caller's own reaches the Request's (undici) only
   * through a weak reference, so a Request collected early would lose the abort.
   */
  watch(request: Request): void {
    const signal = request.signal as AbortSignal | undefined;
    if (signal === undefined) return;
    // The client may be gone already: an aborted signal fires no more 'abort'.
    if (signal.aborted) return this.aborted();
    this.request = request;
    signal.addEventListener("abort", this.aborted, { once: true });
  }

  private readonly aborted = (): void => {
    this.gone();
    this.finish(undefined);
  };

  protected override get handsOutChunks(): boolean {
    return true;
  }

  /** While the body is full: bytes the reader has taken (nothing is enqueued meanwhile). */
  advanced(mark: Progress): boolean {
    const taken = this.enqueued + (this.body$.desiredSize ?? 0);
    const moved = taken !== mark.a;
    mark.a = taken;
    return moved;
  }

  protected write(chunk: Uint8Array): boolean {
    this.body$.enqueue(chunk);
    this.enqueued += chunk.length;
    return (this.body$.desiredSize ?? 0) > 0;
  }

  protected outputHeld(): number {
    return this.bodyOver ? 0 : this.highWaterMark - (this.body$.desiredSize ?? 0);
  }

  protected finish(chunk: Uint8Array | undefined): void {
    this.over();
    if (this.bodyOver) return;
    this.bodyOver = true;
    if (chunk !== undefined) this.body$.enqueue(chunk);
    this.body$.close(); // what was enqueued still reaches the client
  }

  protected drop(reason: CancelledError): void {
    this.over();
    if (this.bodyOver) return;
    this.bodyOver = true;
    this.body$.error(reason);
  }

  protected watchRoom(): void {
    // The body pulls when its reader takes bytes: that is room again.
  }

  /** Flushes after this turn in the stream's own request, whichever request asks (a broadcast, a keep-alive tick, its pull). */
  protected override flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.ring();
  }

  /** A new bell, made from this stream's own request; rung, it flushes after the turn, in that request. */
  private listen(): void {
    void new Promise<void>((resolve) => (this.ring = resolve)).then(this.rung);
  }

  private readonly rung = (): void => afterTurn(this.flushOwn);

  private readonly flushOwn = (): void => {
    this.flushScheduled = false;
    this.listen();
    this.pool.turnOver();
    this.flush();
  };

  /** The stream is ending: its timer stops, its request is let go, and the pool's clock is read afresh (this request's end-of-turn work may never run). */
  private over(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.request?.signal.removeEventListener("abort", this.aborted);
    this.request = undefined;
    this.pool.turnOver();
  }
}

/** A refusal in plain text (counted). */
function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  counters.refuse(status);
  return new Response(message, { status, headers: { ...headers, "Content-Type": "text/plain; charset=utf-8" } });
}
