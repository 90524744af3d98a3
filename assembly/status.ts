// Status codes: every export returns 0, a non-negative count, or one of these.
// As in h11, errors are split: the host misused the ABI (-1 … -9), or the content
// would break the stream and was refused (-10 … -19). A refusal writes no byte.

// --- host misuse ---
/** A call other than init before init. */
export const ERR_NOT_INIT: i32 = -1;
/** An argument out of range: a length beyond staging, a negative size, a count past what is pending. */
export const ERR_BAD_ARG: i32 = -2;
/** The handle names no open connection (never opened, closed, or from an older generation). */
export const ERR_UNKNOWN_CONN: i32 = -3;
/** conn_open while every slot is in use. */
export const ERR_CAPACITY: i32 = -4;
/** init called twice: an engine is configured once, for its whole life. */
export const ERR_ALREADY_INIT: i32 = -5;
/** init asked for more linear memory than the module may have. */
export const ERR_NO_MEMORY: i32 = -6;

// --- refused content ---
/** CR or LF in an event name. */
export const ERR_EVENT_NAME: i32 = -10;
/** CR, LF or NUL in an id (or in a Last-Event-ID given to conn_open). */
export const ERR_ID: i32 = -11;
/** retry is not a non-negative integer of milliseconds (at most 2^53 - 1). */
export const ERR_RETRY: i32 = -12;
/** The frame is larger than the connection's whole outbound space: it can never be sent. */
export const ERR_TOO_LARGE: i32 = -13;
/** The frame fits the connection, but not beside the bytes still pending: drain, then retry. */
export const ERR_NO_SPACE: i32 = -14;
/** The JSON value tape in staging is malformed (unknown tag, truncated, unbalanced, too deep). */
export const ERR_BAD_TAPE: i32 = -15;
/** An id longer than ID_MAX bytes. */
export const ERR_ID_TOO_LONG: i32 = -16;
/** history_find: the id is not among the recorded events (too old, or never sent). */
export const ERR_ID_UNKNOWN: i32 = -17;
