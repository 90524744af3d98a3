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
  wide_init(bytes: number): number;
  shape_define(at: number, len: number): number;
}

// ABI_VERSION, the send() flags, the conn_stat() indexes, the limits and the statuses: the
// one file the core is compiled with.
export * from "../assembly/abi.js";
