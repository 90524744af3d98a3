// withSse's options, their defaults, and the checks that turn a bad configuration into a
// RangeError at setup rather than a surprise under load.
import type { UnknownIdPolicy } from "../common/channel.js";
import { checkRange } from "../common/check-range.js";
import type { CorsOption } from "../common/cors.js";
import { STALL_TIMEOUT_MS } from "../common/slow-clients.js";

export interface WithSseOptions<Req = unknown> {
  /** A `:` comment after this many ms without bytes on a stream (default 15000; 0: off). */
  keepAliveMs?: number;
  /** Streams open at once; one more gets 503 with Retry-After (default 10000). */
  maxConnections?: number;
  /** Core outbound space per stream, so also the largest event frame (default 64 KiB). */
  maxEventBytes?: number;
  /**
   * A stream that would hold more than this for a client that lags (bytes queued, plus sends
   * waiting for room: see README "Limits and defaults") is disconnected (default 1 MiB).
   */
  maxBufferedBytes?: number;
  /** A client that takes no bytes for this many ms while some are pending is disconnected (default 60000; 0: off). */
  stallTimeoutMs?: number;
  /** Retry-After (seconds) on the 503 sent when every connection is in use (default 5). */
  retryAfterSeconds?: number;
  /** Connection slots per engine; the pool adds engines as streams open (default 64). */
  connectionsPerEngine?: number;
  /**
   * Called once with what the handler threw, and once per engine that trapped (with
   * the request of a stream it ended); it never reaches the client (default: console.error).
   */
  onError?: (error: unknown, req: Req) => void;
  /**
   * The channel these streams resume from: when its `unknownId` is "204", a request whose
   * Last-Event-ID it cannot resume gets 204 (EventSource stops) before any stream opens. A
   * SharedChannel may ask Redis first: the response then waits for its answer.
   */
  resumeFrom?: ResumeSource;
  /**
   * Which other origins' pages may read these streams (CORS): `true` any, an origin or a list
   * of them, or `(origin) => boolean`; `{ origin, credentials: true }` for EventSource's
   * `withCredentials`. Default: none (same origin only). An origin function that throws (or
   * answers anything but a boolean) allows nothing, and its error goes to onError. See cors.ts.
   */
  cors?: CorsOption;
}

/** A Channel or a SharedChannel, as far as withSse's `resumeFrom` needs it. */
export interface ResumeSource {
  readonly unknownId: UnknownIdPolicy;
  resumes(lastEventId: string | undefined): boolean | Promise<boolean>;
}

export interface StreamConfig {
  keepAliveMs: number;
  maxConnections: number;
  maxEventBytes: number;
  maxBufferedBytes: number;
  stallTimeoutMs: number;
  retryAfterSeconds: number;
  connectionsPerEngine: number;
}

export function resolveOptions(o: WithSseOptions<never>): StreamConfig {
  const config: StreamConfig = {
    keepAliveMs: o.keepAliveMs ?? 15_000,
    maxConnections: o.maxConnections ?? 10_000,
    maxEventBytes: o.maxEventBytes ?? 64 * 1024,
    maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
    stallTimeoutMs: o.stallTimeoutMs ?? STALL_TIMEOUT_MS,
    retryAfterSeconds: o.retryAfterSeconds ?? 5,
    connectionsPerEngine: o.connectionsPerEngine ?? 64,
  };
  const check = (name: string, value: number, min: number, max: number, integer: boolean) => checkRange(`withSse option ${name}`, value, min, max, integer);
  check("keepAliveMs", config.keepAliveMs, 0, Number.MAX_SAFE_INTEGER, false);
  check("maxConnections", config.maxConnections, 1, Number.MAX_SAFE_INTEGER, true);
  check("maxEventBytes", config.maxEventBytes, 64, 0x4000_0000, true);
  check("maxBufferedBytes", config.maxBufferedBytes, config.maxEventBytes, Number.MAX_SAFE_INTEGER, true);
  check("stallTimeoutMs", config.stallTimeoutMs, 0, Number.MAX_SAFE_INTEGER, false);
  check("retryAfterSeconds", config.retryAfterSeconds, 0, Number.MAX_SAFE_INTEGER, true);
  check("connectionsPerEngine", config.connectionsPerEngine, 1, 65535, true);
  return config;
}
