// A stream over a Node response (node:http's, node:http2's compatibility one, Express's): its
// writable buffer is the output, 'drain' is room again, 'close' or 'error' before the end is
// the client gone.
//
// Rules
// - A response that ended with bytes still in Node's buffer stays in the stall watch until it
//   closes, so a client that never takes its last bytes does not keep the connection.
// - Under compression() (once a proxy stripped no-transform), gzip would hold every event until
//   the end: each write is followed by the compressor's flush.
// - The response head waits for the end of the turn the stream opened in, and goes out with
//   whatever the handler queued in it (a replay, a first event) in one write; alone if nothing.
//   A reconnect storm is then one write per client, not two.
import type { EnginePool, Slot } from "../common/engine-pool.js";
import type { Progress } from "../common/slow-clients.js";
import { SseStream, type StreamPolicy } from "../common/stream.js";

/** What a stream needs of a response. */
export interface StreamResponse {
  write(chunk: Uint8Array): boolean;
  end(chunk?: Uint8Array): unknown;
  destroy(error?: Error): unknown;
  readonly writableLength: number;
  flushHeaders(): void;
  on(event: "close" | "drain" | "error", listener: (error?: unknown) => void): unknown;
  once(event: "close", listener: () => void): unknown;
  /** Added by compression(): pushes out what its compressor holds. Node's own responses have none. */
  flush?(): void;
}

export class NodeStream extends SseStream {
  /** The response's 'close' came. */
  private responseOver = false;
  private drainListening = false;
  /** The head has not gone out: the first write carries it, or the first flush sends it alone. */
  private headPending = true;

  constructor(
    pool: EnginePool,
    slot: Slot,
    private readonly res: StreamResponse,
    lastEventId: string | undefined,
    policy: StreamPolicy,
    /** The request, for reports about this stream. */
    readonly request: unknown,
  ) {
    super(pool, slot, lastEventId, policy);
    // 'close' before end() means the client went away; 'error' likewise (reset, broken pipe).
    // One listener for both: 'error' comes with its error, 'close' with nothing. It is
    // anonymous and inline: tools that keep function names (tsx, esbuild's keepNames) give
    // every named closure a property store of its own, and this one is made per stream.
    onCloseOrError(res, (error?: unknown) => {
      if (error === undefined) this.responseOver = true;
      this.gone();
    });
    this.flushSoon();
  }

  override flush(): void {
    super.flush();
    if (!this.headPending) return;
    this.headPending = false;
    if (!this.isDone()) this.res.flushHeaders();
  }

  /** Resolves when the response is over (sent, or its connection gone); only shutdown asks, so nothing waits for it before. */
  get responseClosed(): Promise<void> {
    return this.responseOver ? Promise.resolve() : new Promise((resolve) => this.res.once("close", resolve));
  }

  /** Ends the connection at once: a shutdown's time is up. */
  destroy(): void {
    this.disconnect("server_closing");
  }

  /** While nothing is written (Node needs 'drain'): what Node and libuv still hold. */
  advanced(mark: Progress): boolean {
    const a = this.res.writableLength;
    const b = socketQueue(this.res);
    const moved = a !== mark.a || b !== mark.b;
    mark.a = a;
    mark.b = b;
    return moved;
  }

  protected write(chunk: Uint8Array): boolean {
    this.headPending = false;
    const more = this.res.write(chunk);
    this.res.flush?.();
    return more;
  }

  protected outputHeld(): number {
    return this.res.writableLength;
  }

  protected finish(chunk: Uint8Array | undefined): void {
    this.headPending = false;
    if (chunk === undefined) this.res.end();
    else this.res.end(chunk);
    if (this.res.writableLength > 0 && !this.responseOver) this.policy.stalls?.block(this);
  }

  protected drop(): void {
    // Cut in the turn it opened (say, its handler's sends passed the bound at once): its client still learns it was a stream.
    if (this.headPending) {
      this.headPending = false;
      this.res.flushHeaders();
    }
    this.res.destroy();
  }

  protected watchRoom(): void {
    if (this.drainListening) return;
    this.drainListening = true;
    this.res.on("drain", () => this.roomAgain());
  }
}

/**
 * libuv's queue under an HTTP/1 response's socket. Node's buffer shrinks a whole write at a
 * time; this shrinks as the kernel takes each part of one, so a slow reader of a large write
 * shows progress (Node's own socket timeout reads it the same way). HTTP/2 streams share their
 * socket, whose queue would show other streams' progress: theirs is not read.
 */
function socketQueue(res: StreamResponse): number {
  const r = res as { stream?: unknown; socket?: { _handle?: { writeQueueSize?: number } | null } | null };
  return r.stream === undefined ? (r.socket?._handle?.writeQueueSize ?? 0) : 0;
}

function onCloseOrError(res: StreamResponse, listener: (error?: unknown) => void): void {
  res.on("close", listener);
  res.on("error", listener);
}
