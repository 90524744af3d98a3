// The command line of the WASI command: --event NAME, --json, --id-start N, --retry MS.
// Arguments are NUL-terminated UTF-8 in memory (WASI args_get); nothing is allocated.

/** The event name's bytes (an argument), or eventLen -1 for none. */
export let eventPtr: usize = 0;
export let eventLen: i32 = -1;
export let json = false;
export let hasId = false;
export let nextId: u64 = 0;
/** The retry to announce first, or -1. */
export let retry: f64 = -1;
export let help = false;

/** Why the command line was refused (an ASCII message), and the argument at fault (0: none). */
export let problem: string = "";
export let problemArg: usize = 0;

const MAX_SAFE: u64 = 9007199254740991;

/** Reads argv[1, argc); false (with problem set) if a flag is unknown or its value is bad. */
export function parse(argv: usize, argc: i32): bool {
  let i = 1;
  // `wasmtime run m.wasm -- --event x` may hand the separator through.
  if (i < argc && is(arg(argv, i), "--")) i++;
  for (; i < argc; i++) {
    const a = arg(argv, i);
    if (is(a, "--json")) {
      json = true;
    } else if (is(a, "--help") || is(a, "-h")) {
      help = true;
    } else if (is(a, "--event") || is(a, "--id-start") || is(a, "--retry")) {
      if (i + 1 == argc) return refuse("a value must follow", a);
      const v = arg(argv, ++i);
      if (is(a, "--event")) {
        eventPtr = v;
        eventLen = <i32>cstrlen(v);
      } else {
        const n = decimal(v);
        if (n < 0) return refuse("expects a whole number of at most 2^53-1, not", v);
        if (is(a, "--retry")) retry = <f64>n;
        else {
          hasId = true;
          nextId = <u64>n;
        }
      }
    } else {
      return refuse("unknown argument", a);
    }
  }
  return true;
}

function refuse(message: string, at: usize): bool {
  problem = message;
  problemArg = at;
  return false;
}

function arg(argv: usize, i: i32): usize {
  return <usize>load<u32>(argv + (<usize>i << 2));
}

export function cstrlen(p: usize): usize {
  let n: usize = 0;
  while (load<u8>(p + n) != 0) n++;
  return n;
}

/** Whether the NUL-terminated argument equals an ASCII literal. */
function is(p: usize, lit: string): bool {
  const n = lit.length;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + i) != lit.charCodeAt(i)) return false;
  return load<u8>(p + n) == 0;
}

/** Digits only, at most 2^53-1; -1 otherwise. */
function decimal(p: usize): i64 {
  let v: u64 = 0;
  let n = 0;
  for (; ; n++) {
    const c = <u32>load<u8>(p + n);
    if (c == 0) break;
    if (c < 0x30 || c > 0x39 || n == 16) return -1;
    v = v * 10 + (c - 0x30);
  }
  return n == 0 || v > MAX_SAFE ? -1 : <i64>v;
}
