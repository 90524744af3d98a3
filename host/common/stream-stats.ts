// What the streams of one withSse listener (or of every sseResponse) have done, for stats():
// counters bumped where things happen (a property increment, nothing allocated per stream or
// per event), read as a snapshot in one synchronous call.

/** Why a stream ended. */
export const END_CAUSES = ["returned", "client_gone", "buffer_full", "stalled", "server_closing", "core_trap", "broker_unavailable"] as const;
export type EndCause = (typeof END_CAUSES)[number];

/** The statuses a request is refused with before any stream opens. */
export const REFUSALS = [204, 400, 405, 406, 503] as const;
export type RefusalStatus = (typeof REFUSALS)[number];

export class StreamCounters {
  opened = 0;
  readonly ended: Record<EndCause, number> = { returned: 0, client_gone: 0, buffer_full: 0, stalled: 0, server_closing: 0, core_trap: 0, broker_unavailable: 0 };
  /** Events the handlers' sends framed. */
  events = 0;
  comments = 0;
  keepAlives = 0;
  /** Bytes handed to the outputs (the sockets or Response bodies). */
  bytesWritten = 0;
  /** The most one stream held for its client at a flush (queued and in its output). */
  bufferedPeak = 0;
  readonly refused: Record<RefusalStatus, number> = { 204: 0, 400: 0, 405: 0, 406: 0, 503: 0 };

  refuse(status: number): void {
    if (status in this.refused) this.refused[status as RefusalStatus]++;
  }
}

/** A snapshot of one listener's (or every sseResponse's) streams. */
export interface StreamStats {
  /** Streams open now. */
  open: number;
  opened: number;
  /** Streams ended, by cause: the handler returned, the client went, cut for a full buffer or a stall, the server closed, a core trapped, a shared channel's Redis was unreachable. */
  ended: Record<EndCause, number>;
  events: number;
  comments: number;
  keepAlives: number;
  bytesWritten: number;
  /** What the open streams hold for their clients now, queued and in their outputs. */
  bytesBuffered: number;
  /** The most one stream held at a flush. */
  bytesBufferedPeak: number;
  /** Requests answered without a stream, by status. */
  refused: Record<RefusalStatus, number>;
  /** Core instances (engines) and connection slots in use. */
  engines: number;
  slotsInUse: number;
}

/** The snapshot of `counters`, with what is measured now. */
export function streamStats(counters: StreamCounters, now: { bytesBuffered: number; engines: number; slotsInUse: number }): StreamStats {
  let ended = 0;
  for (const cause of END_CAUSES) ended += counters.ended[cause];
  return {
    open: counters.opened - ended,
    opened: counters.opened,
    ended: { ...counters.ended },
    events: counters.events,
    comments: counters.comments,
    keepAlives: counters.keepAlives,
    bytesWritten: counters.bytesWritten,
    bytesBuffered: now.bytesBuffered,
    bytesBufferedPeak: counters.bufferedPeak,
    refused: { ...counters.refused },
    engines: now.engines,
    slotsInUse: now.slotsInUse,
  };
}
