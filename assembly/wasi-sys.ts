// The few WASI preview1 calls the command needs (wasi_snapshot_preview1), and small safe
// wrappers. Only integers cross: every buffer is in this module's memory.

@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: u32, nread: usize): u16;
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: u32, nwritten: usize): u16;
@external("wasi_snapshot_preview1", "args_sizes_get")
declare function args_sizes_get(argc: usize, argvBufSize: usize): u16;
@external("wasi_snapshot_preview1", "args_get")
declare function args_get(argv: usize, argvBuf: usize): u16;
@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void;

export const STDIN: u32 = 0;
export const STDOUT: u32 = 1;
export const STDERR: u32 = 2;

const ERRNO_AGAIN: u16 = 6;
const ERRNO_INTR: u16 = 27;

// One iovec (pointer, length) and one result word.
const IOV = memory.data(8);
const RESULT = memory.data(8);

/** Reads what is available (blocking) into [p, p + n): the count, 0 at end of input, -1 on error. */
export function readSome(fd: u32, p: usize, n: usize): i32 {
  store<u32>(IOV, <u32>p);
  store<u32>(IOV, <u32>n, 4);
  while (true) {
    const err = fd_read(fd, IOV, 1, RESULT);
    if (err == 0) return load<i32>(RESULT);
    if (err != ERRNO_AGAIN && err != ERRNO_INTR) return -1;
  }
}

/** Writes all of [p, p + n); false if the descriptor refused (e.g. the reader went away). */
export function writeAll(fd: u32, p: usize, n: usize): bool {
  while (n > 0) {
    store<u32>(IOV, <u32>p);
    store<u32>(IOV, <u32>n, 4);
    const err = fd_write(fd, IOV, 1, RESULT);
    if (err == ERRNO_AGAIN || err == ERRNO_INTR) continue;
    if (err != 0) return false;
    const done = load<u32>(RESULT);
    p += done;
    n -= done;
  }
  return true;
}

/** The arguments, NUL-terminated, into [buf, buf + cap) with their pointers at [ptrs, …); argc, or -1 if too big. */
export function args(ptrs: usize, maxArgs: u32, buf: usize, cap: u32): i32 {
  if (args_sizes_get(RESULT, RESULT + 4) != 0) return -1;
  const argc = load<u32>(RESULT);
  if (argc > maxArgs || load<u32>(RESULT, 4) > cap) return -1;
  return args_get(ptrs, buf) == 0 ? <i32>argc : -1;
}

export function exit(code: u32): void {
  proc_exit(code);
}
