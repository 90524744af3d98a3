// Every number of the ABI, written once (README.md "ABI" says what each means). The core and
// the WASI command import it; so do the bindings (it is plain TypeScript too), the test model
// and the vectors; assembly/abi-header.ts turns it into build/wasm_sse.h for C hosts, and
// test/abi.test.ts checks that header and the built module against it.
// Only `export const NAME = value;` lines (a literal, or integer arithmetic on the names above),
// `//` comments and blank lines: each line becomes a line of the header. No AssemblyScript
// types: an integer is an i32 in the core, and a use that needs u32 casts there. Changing a
// meaning means bumping ABI_VERSION.

// abi_version(): bumped whenever an export's meaning changes.
export const ABI_VERSION = 6;

// send() flags.
export const HAS_EVENT = 1; // event name first in staging: `event: NAME`
export const HAS_ID = 2; // id next: `id: ID` (an empty id resets the client's Last-Event-ID)
export const HAS_RETRY = 4; // `retry: MS`
export const DATA_JSON = 8; // data is a JSON value tape, not text
export const NO_DATA = 16; // a frame of fields only (retry, id): no data line, so nothing is dispatched
export const RECORD = 32; // keep the frame in the history under its id (HAS_ID required)
export const ALL_FLAGS = HAS_EVENT | HAS_ID | HAS_RETRY | DATA_JSON | NO_DATA | RECORD; // any other bit is BAD_ARG

// conn_stat() indexes; another index gives NaN.
export const STAT_EVENTS = 0;
export const STAT_BYTES_FRAMED = 1;
export const STAT_BYTES_DRAINED = 2;
export const STAT_PENDING = 3;
export const STAT_RETRY = 4; // last retry sent, -1: none
export const STAT_DEADLINE = 5; // keep-alive deadline in ms, Infinity: off
export const STAT_HAS_LAST_ID = 6; // 1 if a last id is known, else 0

// JSON value tape tags, one byte before each item (format: assembly/json.ts).
export const TAG_NULL = 0x00;
export const TAG_FALSE = 0x01;
export const TAG_TRUE = 0x02;
export const TAG_NUMBER = 0x03; // f64
export const TAG_STR8 = 0x04; // u32 byte count, UTF-8
export const TAG_STR16 = 0x05; // u32 code-unit count, UTF-16
export const TAG_ARRAY = 0x06;
export const TAG_ARRAY_END = 0x07;
export const TAG_OBJECT = 0x08;
export const TAG_OBJECT_END = 0x09;
export const TAG_KEY8 = 0x0A; // as TAG_STR8, directly inside an object
export const TAG_KEY16 = 0x0B; // as TAG_STR16, directly inside an object
export const TAG_SHAPE = 0x0C; // u16 shape id (shape_define), then one item per member
export const TAG_SKIP = 0x0D; // a shaped object's member left out
export const TAG_STR_AT = 0x0E; // u32 offset from staging's start, u32 byte count, UTF-8
export const TAG_INT32 = 0x0F; // i32
export const TAG_SKIPS = 0x10; // u8 count n >= 1: n members of a shaped object left out

// Limits of init, history_init, shape_init, ids and tapes.
export const MAX_CONNS = 65535;
export const MIN_REGION = 16; // the smallest outbound space, history ring or shape area
export const MAX_REGION = 1 << 30; // the largest of each, and of staging
export const ID_MAX = 256; // the longest id or Last-Event-ID, in bytes
export const MIN_STAGING = ID_MAX; // staging holds at least a whole Last-Event-ID
export const MAX_DEPTH = 256; // the deepest nesting of a tape
export const MAX_HISTORY_EVENTS = 1 << 20;
export const MAX_SHAPES = 65535;

// Status codes: every export returns 0, a non-negative count, or one of these. As in h11,
// errors are split: the host misused the ABI (-1 … -9), or the content would break the
// stream and was refused (-10 … -19). A refusal writes no byte.
export const ERR_NOT_INIT = -1; // a call other than init before init
export const ERR_BAD_ARG = -2; // an argument out of range: a length beyond staging, a non-zero length for a field send's flags leave out, a negative size, a count past what is pending
export const ERR_UNKNOWN_CONN = -3; // the handle names no open connection (never opened, closed, or from an older generation)
export const ERR_CAPACITY = -4; // conn_open while every slot is in use
export const ERR_ALREADY_INIT = -5; // init called twice: an engine is configured once, for its whole life
export const ERR_NO_MEMORY = -6; // init asked for more linear memory than the module may have
export const ERR_EVENT_NAME = -10; // CR or LF in an event name
export const ERR_ID = -11; // CR, LF or NUL in an id (or in a Last-Event-ID given to conn_open)
export const ERR_RETRY = -12; // retry is not a non-negative integer of milliseconds (at most 2^53 - 1)
export const ERR_TOO_LARGE = -13; // the frame is larger than the connection's whole outbound space: it can never be sent
export const ERR_NO_SPACE = -14; // the frame fits the connection, but not beside the bytes still pending: drain, then retry
export const ERR_BAD_TAPE = -15; // the JSON value tape in staging is malformed (unknown tag, truncated, unbalanced, too deep)
export const ERR_ID_TOO_LONG = -16; // an id longer than ID_MAX bytes
export const ERR_ID_UNKNOWN = -17; // history_find: the id is not among the recorded events (too old, or never sent)
