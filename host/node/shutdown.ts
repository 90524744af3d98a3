// Graceful shutdown of one withSse: every open stream gets the last event (framed once, like
// a broadcast) after what it already had pending, its handler is cancelled so its cleanup
// runs, and its response ends. A client that does not read its last bytes cannot hold the
// shutdown up: at the deadline its connection is destroyed.
import { Engine } from "../../bindings/index.js";
import { coreInstance } from "../common/core-module.js";
import type { NodeStream } from "./stream.js";

export interface CloseOptions {
  /** Data of a last event for every stream (as send() takes it); sent when `data` or `event` is given. */
  data?: unknown;
  /** The last event's type. */
  event?: string;
  /** How long streams may take to end before their connections are destroyed (ms, default 5000). */
  timeoutMs?: number;
}

export interface CloseReport {
  /** Streams that were open when close() was called. */
  streams: number;
  /** Of those, the ones whose response was still not over at the deadline: their connections were destroyed. */
  destroyed: number;
}

/** The last event's frame, or undefined; bad input throws the engine's typed error. */
export function lastFrame(o: CloseOptions, maxEventBytes: number): Uint8Array | undefined {
  if (o.data === undefined && o.event === undefined) return undefined;
  const engine = new Engine(coreInstance(), { maxConnections: 1, outBytes: maxEventBytes, shapes: false });
  const conn = engine.open();
  engine.send(conn, o.data ?? "", o.event === undefined ? {} : { event: o.event });
  return engine.drain(conn);
}

/** Ends every stream (each with its handler's run); resolves when all are done or the time is up. */
export async function shutdown(streams: ReadonlyMap<NodeStream, Promise<void>>, last: Uint8Array | undefined, timeoutMs: number): Promise<CloseReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<"late">((resolve) => (timer = setTimeout(resolve, timeoutMs, "late")));
  let destroyed = 0;
  const ending = [...streams].map(async ([stream, handler]) => {
    let responded = false;
    stream.shutdown(last);
    const response = stream.responseClosed.then(() => void (responded = true));
    const over = Promise.all([response, handler]).then(() => "done" as const);
    if ((await Promise.race([over, timeUp])) === "done" || responded) return; // a handler past its deadline is not waited for
    destroyed++;
    stream.destroy();
    await stream.responseClosed;
  });
  await Promise.all(ending);
  clearTimeout(timer);
  return { streams: ending.length, destroyed };
}
