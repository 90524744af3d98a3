// The module's exports as TypeScript sees them. README.md ("ABI") is the reference; the
// test in test/abi.test.ts checks both against the built module.

export interface SseExports {
  readonly memory: WebAssembly.Memory;
  abi_version(): number;
  init(maxConns: number, outBytes: number, stagingBytes: number, keepAliveMs: number): number;
  staging_ptr(): number;
  staging_cap(): number;
  conn_open(lastIdLen: number): number;
  conn_close(handle: number): number;
  conn_state(handle: number): number;
  conn_stat(handle: number, which: number): number;
  last_id_len(handle: number): number;
  last_id_ptr(handle: number): number;
  open_count(): number;
  send(handle: number, flags: number, eventLen: number, idLen: number, dataLen: number, retry: number): number;
  comment(handle: number, len: number): number;
  out_ptr(handle: number): number;
  out_len(handle: number): number;
  out_consume(handle: number, n: number): number;
  out_take(handle: number): number;
  taken_ptr(): number;
  tick(nowMs: number): number;
  set_now(nowMs: number): number;
  conn_touch(handle: number): number;
  due_ptr(): number;
  next_deadline(): number;
  history_init(maxEvents: number, maxBytes: number): number;
  history_count(): number;
  history_find(idLen: number): number;
  history_ptr(i: number): number;
  history_len(i: number): number;
  shape_init(maxShapes: number, maxBytes: number): number;
  shape_define(at: number, len: number): number;
}

export const ABI_VERSION = 4;

/** send() flags. */
export const HAS_EVENT = 1;
export const HAS_ID = 2;
export const HAS_RETRY = 4;
export const DATA_JSON = 8;
export const NO_DATA = 16;
export const RECORD = 32;

/** conn_stat() indexes. */
export const STAT_EVENTS = 0;
export const STAT_BYTES_FRAMED = 1;
export const STAT_BYTES_DRAINED = 2;
export const STAT_PENDING = 3;
export const STAT_RETRY = 4;
export const STAT_DEADLINE = 5;
export const STAT_HAS_LAST_ID = 6;

/** The longest id the core remembers (conn.ts ID_MAX). */
export const ID_MAX = 256;
