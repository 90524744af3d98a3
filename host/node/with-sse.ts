// withSse(handler) → a standard (req, res) listener, as Microdot's @with_sse decorator: the
// handler gets the request and an Sse object, and the stream lives as long as the handler.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { InvalidFieldError } from "../../bindings/index.js";
import { CancelledError } from "../common/cancelled-error.js";
import { checkRange } from "../common/check-range.js";
import { coreModule } from "../common/core-module.js";
import { resolveCors, type Cors, type CorsFailure } from "../common/cors.js";
import { EnginePool } from "../common/engine-pool.js";
import { lastEventIdOf } from "../common/last-event-id.js";
import { refusal } from "../common/negotiate.js";
import { logError, report } from "../common/report.js";
import { stallWatch } from "../common/slow-clients.js";
import { handleOf, type Sse } from "../common/sse.js";
import type { StreamPolicy } from "../common/stream.js";
import "./core-file.js";
import { streamHeaders } from "./headers.js";
import { resolveOptions, type WithSseOptions } from "./options.js";
import { own } from "../common/own.js";
import { RunningHandlers } from "./running-handlers.js";
import { lastFrame, shutdown, type CloseOptions, type CloseReport } from "./shutdown.js";
import { NodeStream, type StreamResponse } from "./stream.js";
import { StreamCounters, streamStats, type StreamStats } from "../common/stream-stats.js";
import { diagnostics, opened } from "./diagnostics.js";

/** The parts of a request withSse reads; node:http's, node:http2's and Express's all fit. */
export interface RequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
}

export type SseHandler<Req> = (req: Req, sse: Sse) => unknown;

export type AnyResponse = ServerResponse | Http2ServerResponse;

type Finish<Req> = (stream: NodeStream, req: Req, failed: boolean, error: unknown) => void;

/** A request listener; `openConnections` counts the core connection slots in use. */
export interface SseListener<Req> {
  (req: Req, res: AnyResponse): void;
  readonly openConnections: number;
  /**
   * Graceful shutdown: from now on requests get 503; every open stream gets the last event
   * (if `data` or `event` is given), its handler is cancelled (CancelledError: its cleanup
   * runs) and its response ends. Resolves when all are over, or after `timeoutMs` (default
   * 5000) with the connections still not done destroyed. A last event the core refuses
   * rejects with its typed error, and nothing changes.
   */
  close(options?: CloseOptions): Promise<CloseReport>;
  /** A snapshot of this listener's streams and refusals: synchronous, nothing allocated per stream. */
  stats(): StreamStats;
}

interface HeadResponse {
  setHeader(name: string, value: string): unknown;
  writeHead(status: number, headers: Readonly<Record<string, string>>): unknown;
  end(text?: string): unknown;
}

export function withSse<Req extends RequestLike = IncomingMessage | Http2ServerRequest>(
  handler: SseHandler<Req>,
  options: WithSseOptions<Req> = {},
): SseListener<Req> {
  options = own(options);
  const config = resolveOptions(options);
  const cors = resolveCors(options.cors, "withSse option cors");
  const onError = options.onError ?? logError;
  coreModule(); // a missing or broken build/sse.wasm fails here, not at the first request
  const running = new RunningHandlers();
  let pool: EnginePool | undefined;
  let closing = false;
  const policy: StreamPolicy = {
    maxBufferedBytes: config.maxBufferedBytes,
    boundName: "maxBufferedBytes",
    stalls: stallWatch(config.stallTimeoutMs),
    fault: (error, stream) => report(onError, error, (stream as NodeStream).request as Req),
    counters: new StreamCounters(),
    observer: diagnostics,
  };
  /** A refusal: counted, then answered. */
  const refuse = (head: HeadResponse, status: number, headers: Readonly<Record<string, string>>, message?: string): void => {
    policy.counters.refuse(status);
    reply(head, status, headers, message);
  };

  const listener = (req: Req, response: AnyResponse): void => {
    const head = response as unknown as HeadResponse;
    if (cors !== undefined && answerCors(cors, req, head, (error) => report(onError, error, req))) return;
    const refused = refusal(req.method, header(req, "accept"));
    if (refused !== undefined) return refuse(head, refused.status, refused.headers, refused.message);
    const resumed = lastEventIdOf(header(req, "last-event-id"), req.url);
    if ("refused" in resumed) return refuse(head, 400, {}, `Last-Event-ID refused: ${resumed.refused}\n`);
    const lastEventId = resumed.id;
    const headers = streamHeaders(req);
    if (req.method === "HEAD") return reply(head, 200, headers);
    // Middleware before us may have awaited past the client's exit: 'close' already fired.
    if (isClosed(response)) return;
    if (closing) return refuse(head, 503, { "Retry-After": String(config.retryAfterSeconds) }, "the server is shutting down\n");

    // 204 tells EventSource to stop: a client this channel cannot resume is not reconnected forever.
    let resumes: boolean | Promise<boolean>;
    try {
      resumes = options.resumeFrom?.unknownId === "204" ? options.resumeFrom.resumes(lastEventId) : true;
    } catch (error) {
      if (!(error instanceof InvalidFieldError)) throw error;
      return refuse(head, 400, {}, `Last-Event-ID refused: ${error.message}\n`);
    }
    if (resumes === false) return refuse(head, 204, {});
    if (resumes === true) return open(req, response, headers, lastEventId);
    resumes.then(
      (yes) => {
        if (isClosed(response)) return;
        if (!yes) return refuse(head, 204, {});
        if (closing) return refuse(head, 503, { "Retry-After": String(config.retryAfterSeconds) }, "the server is shutting down\n");
        open(req, response, headers, lastEventId);
      },
      (error: unknown) => {
        report(onError, error, req);
        if (!isClosed(response)) refuse(head, 503, { "Retry-After": String(config.retryAfterSeconds) }, "the resume check failed; retry later\n");
      },
    );
  };

  /** Opens the stream (a slot, or 503 when every one is in use) and runs the handler. */
  const open = (req: Req, response: AnyResponse, headers: Record<string, string>, lastEventId: string | undefined): void => {
    const head = response as unknown as HeadResponse;
    let stream: NodeStream | undefined;
    try {
      pool ??= new EnginePool(config);
      stream = pool.open(lastEventId, (slot) => new NodeStream(pool!, slot, response as unknown as StreamResponse, lastEventId, policy, req));
    } catch (error) {
      if (!(error instanceof InvalidFieldError)) throw error;
      return refuse(head, 400, {}, `Last-Event-ID refused: ${error.message}\n`);
    }
    if (stream === undefined) {
      return refuse(head, 503, { "Retry-After": String(config.retryAfterSeconds) }, "every event-stream connection is in use; retry later\n");
    }
    head.writeHead(200, headers); // sent with the stream's first chunk, at the latest when this turn ends
    opened(stream);
    running.add(stream);
    run(handler, req, stream, finish);
  };

  /** The handler settled: report what it threw, end the stream, and it is no longer running. */
  const finish: Finish<Req> = (stream, req, failed, error) => {
    // The cancellation a disconnect (or shutdown, or a core trap) raised into the handler is how it ends, not a fault.
    if (failed && !(error instanceof CancelledError && stream.cancelled)) report(onError, error, req);
    void stream.end().then(() => running.done(stream));
  };

  const close = async (given: CloseOptions = {}): Promise<CloseReport> => {
    const o = own(given);
    const timeoutMs = o.timeoutMs ?? 5000;
    checkRange("close option timeoutMs", timeoutMs, 0, 2 ** 31 - 1, false);
    const last = lastFrame(o, config.maxEventBytes);
    closing = true;
    return shutdown(running.withEnds(), last, timeoutMs);
  };
  Object.defineProperty(listener, "openConnections", { get: () => pool?.openConnections ?? 0 });
  const stats = (): StreamStats =>
    streamStats(policy.counters, { bytesBuffered: pool?.bytesBuffered ?? 0, engines: pool?.engines ?? 0, slotsInUse: pool?.openConnections ?? 0 });
  return Object.assign(listener, { close, stats }) as SseListener<Req>;
}

/**
 * Calls the handler and, when it settles, `finish`. Not an async function: the handler's own
 * promise is the only frame an idle stream keeps, with one reaction on it. The closures are
 * anonymous and inline (see NodeStream's constructor).
 */
function run<Req>(handler: SseHandler<Req>, req: Req, stream: NodeStream, finish: Finish<Req>): void {
  let result: unknown;
  try {
    result = handler(req, handleOf(stream));
  } catch (error) {
    finish(stream, req, true, error);
    return;
  }
  Promise.resolve(result).then(
    () => finish(stream, req, false, undefined),
    (error: unknown) => finish(stream, req, true, error),
  );
}

/** Sets the CORS headers every answer to `req` carries; true if `req` was a preflight, now answered. */
function answerCors(cors: Cors, req: RequestLike, res: HeadResponse, failed: CorsFailure): boolean {
  const origin = header(req, "origin");
  if (req.method === "OPTIONS") {
    const preflight = cors.preflight(origin, header(req, "access-control-request-method"), header(req, "access-control-request-headers"), failed);
    if (preflight !== undefined) {
      reply(res, 204, preflight);
      return true;
    }
  }
  for (const [name, value] of Object.entries(cors.headers(origin, failed))) res.setHeader(name, value);
  return false;
}

function reply(res: HeadResponse, status: number, headers: Readonly<Record<string, string>>, message?: string): void {
  const textHeaders = message === undefined ? headers : { ...headers, "Content-Type": "text/plain; charset=utf-8" };
  res.writeHead(status, textHeaders);
  res.end(message);
}

/** Whether the response's connection (HTTP/1) or stream (HTTP/2) has already closed. */
function isClosed(res: AnyResponse): boolean {
  const r = res as { destroyed?: boolean; closed?: boolean; stream?: { closed: boolean } };
  return r.destroyed === true || r.closed === true || r.stream?.closed === true;
}

function header(req: RequestLike, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
