// withSse(handler) → a standard (req, res) listener, as Microdot's @with_sse decorator: the
// handler gets the request and an Sse object, and the stream lives as long as the handler.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { InvalidFieldError } from "../../bindings/index.js";
import { CancelledError } from "./cancelled-error.js";
import { EnginePool } from "./engine-pool.js";
import { streamHeaders } from "./headers.js";
import { refusal } from "./negotiate.js";
import { resolveOptions, type WithSseOptions } from "./options.js";
import { SseStream, type Sse, type StreamResponse } from "./sse.js";
import { sseModule } from "./wasm.js";

/** The parts of a request withSse reads; node:http's, node:http2's and Express's all fit. */
export interface RequestLike {
  readonly method?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
}

export type SseHandler<Req> = (req: Req, sse: Sse) => unknown;

export type AnyResponse = ServerResponse | Http2ServerResponse;

/** A request listener; `openConnections` counts the core connection slots in use. */
export interface SseListener<Req> {
  (req: Req, res: AnyResponse): void;
  readonly openConnections: number;
}

interface HeadResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
  end(text?: string): unknown;
}

export function withSse<Req extends RequestLike = IncomingMessage | Http2ServerRequest>(
  handler: SseHandler<Req>,
  options: WithSseOptions<Req> = {},
): SseListener<Req> {
  const config = resolveOptions(options);
  const onError = options.onError ?? logError;
  sseModule(); // a missing or broken build/sse.wasm fails here, not at the first request
  let pool: EnginePool | undefined;

  const listener = (req: Req, response: AnyResponse): void => {
    const head = response as unknown as HeadResponse;
    const lastEventId = header(req, "last-event-id");
    const refused = refusal(req.method, header(req, "accept"));
    if (refused !== undefined) return reply(head, refused.status, refused.headers, refused.message);
    const headers = streamHeaders(req);
    if (req.method === "HEAD") return reply(head, 200, headers);
    // Middleware before us may have awaited past the client's exit: 'close' already fired.
    if (isClosed(response)) return;

    pool ??= new EnginePool(config);
    let stream: SseStream | undefined;
    let slot;
    try {
      slot = pool.open(lastEventId, () => stream?.keepAliveDue());
    } catch (error) {
      if (!(error instanceof InvalidFieldError)) throw error;
      return reply(head, 400, {}, `Last-Event-ID refused: ${error.message}\n`);
    }
    if (slot === undefined) {
      return reply(head, 503, { "Retry-After": String(config.retryAfterSeconds) }, "every event-stream connection is in use; retry later\n");
    }
    head.writeHead(200, headers);
    head.flushHeaders();
    stream = new SseStream(pool, slot, response as unknown as StreamResponse, lastEventId, config.maxBufferedBytes);
    void run(handler, req, stream, onError);
  };
  Object.defineProperty(listener, "openConnections", { get: () => pool?.openConnections ?? 0 });
  return listener as SseListener<Req>;
}

async function run<Req>(handler: SseHandler<Req>, req: Req, stream: SseStream, onError: (error: unknown, req: Req) => void): Promise<void> {
  try {
    await handler(req, stream);
  } catch (error) {
    // The cancellation a disconnect raised into the handler is how it ends, not a fault.
    if (!(error instanceof CancelledError && stream.cancelled)) report(onError, error, req);
  }
  await stream.end();
}

function report<Req>(onError: (error: unknown, req: Req) => void, error: unknown, req: Req): void {
  try {
    onError(error, req);
  } catch (secondary) {
    logError(secondary);
  }
}

function logError(error: unknown): void {
  console.error("wasm-sse: an event-stream handler failed:", error);
}

function reply(res: HeadResponse, status: number, headers: Record<string, string>, message?: string): void {
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
