// A bounded write cursor over one free region. Frames are written speculatively: bytes
// past the limit are counted, not stored, so a refused frame leaves the region's owner
// untouched (it only commits `len()` on success) and the caller still learns the size
// the frame would have needed.

let base: usize = 0;
let pos: usize = 0;
let limit: usize = 0;
let over: u32 = 0;

export function begin(start: usize, end: usize): void {
  base = start;
  pos = start;
  limit = end;
  over = 0;
}

/** Bytes the frame needs (stored or not). */
export function needed(): u32 {
  return <u32>(pos - base) + over;
}

/** True if every byte so far was stored. */
export function fits(): bool {
  return over == 0;
}

/** Where the next byte goes, and how many may go there, for writers that fill in place. */
export function cursor(): usize {
  return pos;
}
export function room(): usize {
  return over == 0 ? limit - pos : 0;
}
/** Records `n` bytes written in place at cursor(); n must be at most room(). */
export function advance(n: usize): void {
  pos += n;
}

export function byte(b: u32): void {
  if (over == 0 && pos < limit) {
    store<u8>(pos++, b);
  } else {
    over++;
  }
}

/** Two ASCII bytes, b0 first. */
export function pair(b0: u32, b1: u32): void {
  if (over == 0 && pos + 2 <= limit) {
    store<u16>(pos, <u16>(b0 | (b1 << 8)));
    pos += 2;
  } else {
    byte(b0);
    byte(b1);
  }
}

export function bytes(src: usize, n: usize): void {
  if (over == 0 && n <= limit - pos) {
    copy(pos, src, n);
    pos += n;
  } else {
    over += <u32>n;
  }
}

/** Copies n bytes from src to dst (the two do not overlap). */
// @ts-ignore: decorator
@inline export function copy(dst: usize, src: usize, n: usize): void {
  if (n <= 32) {
    // memory.copy is a call out of wasm in most engines: short runs are cheaper by hand,
    // a word at a time, the last word overlapping the one before instead of a byte loop.
    if (n >= 8) {
      for (let i: usize = 0; i + 8 < n; i += 8) store<u64>(dst + i, load<u64>(src + i));
      store<u64>(dst + n - 8, load<u64>(src + n - 8));
    } else if (n >= 4) {
      store<u32>(dst, load<u32>(src));
      store<u32>(dst + n - 4, load<u32>(src + n - 4));
    } else {
      for (let i: usize = 0; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
    }
  } else {
    memory.copy(dst, src, n);
  }
}
