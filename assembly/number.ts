// ECMAScript Number::toString (radix 10) for finite doubles, without allocation.
//
// Digits come from Ryu (Ulf Adams, "Ryu: fast float-to-string conversion", PLDI 2018): the
// shortest decimal in the rounding interval, nearest to x, ties to even; the same choice V8
// makes, so the text matches String(x) byte for byte. The 125-bit multipliers 5^i and 2^k/5^q
// are rebuilt on the fly from one base per 26 exponents times an exact 5^offset plus a 2-bit
// correction (Ryu's "small table" idea), keeping the tables under 1 KiB instead of ~10 KiB.
// Tables are generated and checked by number-tables.mjs (BigInt).

const POW5_BITS: i32 = 125; // bit length of every multiplier (both directions)

/** 5^(26b) normalised to 125 bits, floor; lo, hi u64 pairs. */
const POW5_BASE = memory.data<u64>([
  0x0000000000000000, 0x1000000000000000,
  0x0000000000000000, 0x14adf4b7320334b9,
  0x0e549208b31adb10, 0x1aba4714957d300d,
  0x6dc6ad264d8f0866, 0x1145b7e285bf98f5,
  0xeb1dbd923d8596ca, 0x1652efdc6018a1fc,
  0xb4c1b80b22ae923c, 0x1cda62055b2d9d83,
  0x5bb28b4e8f7e4c30, 0x12a5568b9f52f416,
  0xf08aed437682d4fb, 0x1819651531f9e78f,
  0xb4ee134ad99bf150, 0x1f25c186a6f04c28,
  0x16499ecb70c25f03, 0x1420eb449c8842e6,
  0x85a56ead360865b0, 0x1a03fde214caf085,
  0x093db1d57999890b, 0x10cfeb353a97dad8,
  0xcf38bb735e3f36ac, 0x15baaf44fa52673e,
]);
/** floor(2^(pow5bits(26b) - 1 + 125) / 5^(26b)); lo, hi u64 pairs. */
const INV_POW5_BASE = memory.data<u64>([
  0x0000000000000000, 0x2000000000000000,
  0x52a6c95fc0655033, 0x18c240c4aecb13bb,
  0x7ca8d50071dfc805, 0x1327fc58da0f6ff5,
  0x6520247d3556476d, 0x1da48ce468e7c702,
  0x6139cdd76802e6e8, 0x16ef5b40c2fc7779,
  0xf951a7ff43de8c78, 0x11bebdf578b2f391,
  0x7be8bee8d6e957e7, 0x1b758d848fac54b0,
  0x8bd3f9e999a423e9, 0x153eda614071a3b7,
  0x0848f973cb3ee3cd, 0x10701bd527b4978c,
  0x153285ebb9efbfa1, 0x196fbb9bb44db44d,
  0xadeee7f86c07b695, 0x13ae3591f5b4d936,
  0x4d686a4eaf182221, 0x1e74404f3daada91,
  0x98c0a106e09ebd9e, 0x17900ea4fda7c257,
]);
/** 5^0 .. 5^25: all fit a u64. */
const POW5_U64 = memory.data<u64>([
  0x0000000000000001, 0x0000000000000005, 0x0000000000000019,
  0x000000000000007d, 0x0000000000000271, 0x0000000000000c35,
  0x0000000000003d09, 0x000000000001312d, 0x000000000005f5e1,
  0x00000000001dcd65, 0x00000000009502f9, 0x0000000002e90edd,
  0x000000000e8d4a51, 0x0000000048c27395, 0x000000016bcc41e9,
  0x000000071afd498d, 0x0000002386f26fc1, 0x000000b1a2bc2ec5,
  0x000003782dace9d9, 0x00001158e460913d, 0x000056bc75e2d631,
  0x0001b1ae4d6e2ef5, 0x000878678326eac9, 0x002a5a058fc295ed,
  0x00d3c21bcecceda1, 0x0422ca8b0a00a425,
]);
/** exact - approximate multiplier for 5^i, i = 0..325, 2 bits each, 16 per word. */
const POW5_CORR = memory.data<u32>([
  0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x40000000, 0x59695995,
  0x55545555, 0x56555515, 0x41150504, 0x40555410, 0x44555145, 0x44504540,
  0x45555550, 0x40004000, 0x96440440, 0x55565565, 0x54454045, 0x40154151,
  0x55559155, 0x51405555, 0x00000105,
]);
/** Same for the inverse, q = 0..292 (includes Ryu's +1 that makes the inverse round up). */
const INV_POW5_CORR = memory.data<u32>([
  0xa9a99aa9, 0x595aaa9a, 0x65596555, 0x55955969, 0x95565555, 0x966aaaaa,
  0x555559a9, 0x55565599, 0x95555555, 0x99555596, 0xa59a99a5, 0xaaaa55a9,
  0xa6baaaa9, 0x95559555, 0x56555556, 0x55565a55, 0xa6a6a966, 0x5aaaaaa9,
  0x00000255,
]);

// Multiplier of the last computeInvPow5 / computePow5 (no u128, no allocation).
let mulLo: u64 = 0;
let mulHi: u64 = 0;

/** ceil(log2(5^e)) for 1 <= e <= 3528; 1 for e = 0. */
// @ts-ignore: decorator
@inline function pow5bits(e: i32): i32 {
  return <i32>((<u32>e * 1217359) >>> 19) + 1;
}
/** floor(log10(2^e)) for 0 <= e <= 1650. */
// @ts-ignore: decorator
@inline function log10Pow2(e: i32): i32 {
  return <i32>((<u32>e * 78913) >>> 18);
}
/** floor(log10(5^e)) for 0 <= e <= 2620. */
// @ts-ignore: decorator
@inline function log10Pow5(e: i32): i32 {
  return <i32>((<u32>e * 732923) >>> 20);
}

/** High 64 bits of a * b, from 32-bit halves (wasm has no 64x64->128). */
// @ts-ignore: decorator
@inline function umulh(a: u64, b: u64): u64 {
  let a0 = a & 0xFFFFFFFF, a1 = a >> 32;
  let b0 = b & 0xFFFFFFFF, b1 = b >> 32;
  let p01 = a0 * b1;
  // Cannot overflow: (2^32-1)^2 + 2 * (2^32-1) = 2^64 - 1.
  let mid = a1 * b0 + ((a0 * b0) >> 32) + (p01 & 0xFFFFFFFF);
  return a1 * b1 + (mid >> 32) + (p01 >> 32);
}

/** (m:u64 * mulHi:mulLo:u64) >> delta, keeping 128 bits, into mulLo/mulHi; 0 < delta < 64. */
// @ts-ignore: decorator
@inline function scaleMul(m: u64, delta: i32): void {
  let lo = mulLo, hi = mulHi;
  let mid = umulh(m, lo) + m * hi;
  let top = umulh(m, hi) + <u64>(mid < m * hi);
  let d = <u64>delta;
  mulLo = ((m * lo) >> d) | (mid << (64 - d));
  mulHi = (mid >> d) | (top << (64 - d));
}

/** Adds the 2-bit correction for index i from table t. */
// @ts-ignore: decorator
@inline function addCorrection(t: usize, i: i32): void {
  let c = <u64>((load<u32>(t + (<usize>(i >>> 4) << 2)) >>> ((i & 15) << 1)) & 3);
  let lo = mulLo + c;
  mulHi += <u64>(lo < c);
  mulLo = lo;
}

/** 5^i normalised to 125 bits (floor), i <= 325. */
function computePow5(i: i32): void {
  let base = <i32>(<u32>i / 26);
  let base2 = base * 26;
  let p = POW5_BASE + (<usize>base << 4);
  mulLo = load<u64>(p);
  mulHi = load<u64>(p, 8);
  let off = i - base2;
  if (off) scaleMul(load<u64>(POW5_U64 + (<usize>off << 3)), pow5bits(i) - pow5bits(base2));
  addCorrection(POW5_CORR, i);
}

/** floor(2^(pow5bits(q) - 1 + 125) / 5^q) + 1, q <= 292: 1/5^q = 5^off / 5^(q + off). */
function computeInvPow5(q: i32): void {
  let base = <i32>(<u32>(q + 25) / 26);
  let base2 = base * 26;
  let p = INV_POW5_BASE + (<usize>base << 4);
  mulLo = load<u64>(p);
  mulHi = load<u64>(p, 8);
  let off = base2 - q;
  if (off) scaleMul(load<u64>(POW5_U64 + (<usize>off << 3)), pow5bits(base2) - pow5bits(q));
  addCorrection(INV_POW5_CORR, q);
}

/** (m * multiplier) >> j for 64 < j < 128. */
// @ts-ignore: decorator
@inline function mulShift(m: u64, j: i32): u64 {
  let b2lo = m * mulHi;
  let lo = umulh(m, mulLo) + b2lo;
  let hi = umulh(m, mulHi) + <u64>(lo < b2lo);
  let s = <u64>(j - 64);
  return (hi << (64 - s)) | (lo >> s);
}

function pow5Factor(v: u64): u32 {
  let n: u32 = 0;
  while (true) {
    let q = v / 5;
    if (v - q * 5) break;
    v = q;
    n++;
  }
  return n;
}

// @ts-ignore: decorator
@inline function multipleOfPow5(v: u64, p: i32): bool {
  return pow5Factor(v) >= <u32>p;
}

/** Number of decimal digits of w < 10^8 (w = 0 -> 1). */
// @ts-ignore: decorator
@inline function length8(w: u32): i32 {
  if (w < 10000) return w < 100 ? (w < 10 ? 1 : 2) : (w < 1000 ? 3 : 4);
  return w < 1000000 ? (w < 100000 ? 5 : 6) : (w < 10000000 ? 7 : 8);
}

/** Number of decimal digits of v, 1 <= v < 10^17 (or v = 0 -> 1). */
function decimalLength(v: u64): i32 {
  if (v < 100000000) return length8(<u32>v);
  if (v < 1000000000000) {
    return v < 10000000000 ? (v < 1000000000 ? 9 : 10) : (v < 100000000000 ? 11 : 12);
  }
  if (v < 10000000000000000) {
    return v < 100000000000000
      ? (v < 10000000000000 ? 13 : 14)
      : (v < 1000000000000000 ? 15 : 16);
  }
  return 17;
}

/** Two ASCII digits of d < 100 as a little-endian u16 ((d * 103) >> 10 == d / 10 for d < 179). */
// @ts-ignore: decorator
@inline function digitPair(d: u32): u16 {
  let t = (d * 103) >> 10;
  return <u16>(((d - t * 10) << 8) + t + 0x3030);
}

/** Writes the decimal digits of v so that they end just before `end`. */
function writeDigits(end: usize, v: u64): void {
  while (v > 0xFFFFFFFF) {
    let q = v / 100000000;
    let r = <u32>(v - q * 100000000);
    v = q;
    let r1 = r / 10000, r2 = r - r1 * 10000;
    let a = r1 / 100, b = r2 / 100;
    store<u16>(end - 8, digitPair(a));
    store<u16>(end - 6, digitPair(r1 - a * 100));
    store<u16>(end - 4, digitPair(b));
    store<u16>(end - 2, digitPair(r2 - b * 100));
    end -= 8;
  }
  digits32(end, <u32>v);
}

/** Writes the decimal digits of w < 2^32 so that they end just before `end`. */
// @ts-ignore: decorator
@inline function digits32(end: usize, w: u32): void {
  while (w >= 100) {
    let q = w / 100;
    store<u16>(end - 2, digitPair(w - q * 100));
    end -= 2;
    w = q;
  }
  if (w >= 10) store<u16>(end - 2, digitPair(w));
  else store<u8>(end - 1, <u8>(w + 0x30));
}

/** Writes Number::toString of an integer of 32 bits (tape tag 0x0F) at dst, with no f64 test; returns the byte count (at most 11). */
export function writeInt(dst: usize, i: i32): usize {
  let p = dst;
  let w = <u32>i;
  if (i < 0) {
    store<u8>(p++, 0x2D);
    w = 0 - w; // wraps right for -2^31 too
  }
  const k = w < 100000000 ? length8(w) : w < 1000000000 ? 9 : 10;
  digits32(p + k, w);
  return p + k - dst;
}

/** Writes ECMAScript Number::toString(x) for a finite x as ASCII at dst; returns the byte count (never more than 25). -0 writes "0". */
export function writeNumber(dst: usize, x: f64): usize {
  let p = dst;
  if (x < 0) {
    store<u8>(p++, 0x2D);
    x = -x;
  }
  // Integers below 2^53 are exact and every other integer is at least 1 away, so the
  // shortest round-trip text is the integer itself (all of -0, 0 land here too).
  if (x < 9007199254740992.0 && x == Math.floor(x)) {
    // Below 10^8 (counters, ids, most integers) without a call.
    if (x < 100000000) {
      let k = length8(<u32>x);
      digits32(p + k, <u32>x);
      return p + k - dst;
    }
    let v = <u64>x;
    let k = decimalLength(v);
    writeDigits(p + k, v);
    return p + k - dst;
  }

  if (shortDecimal(x)) return layout(p, shortDigits, shortExp) - dst;

  let bits = reinterpret<u64>(x);
  let ieeeM = bits & 0xFFFFFFFFFFFFF;
  let ieeeE = <i32>(bits >> 52);
  let e2: i32;
  let m2: u64;
  if (ieeeE == 0) {
    e2 = 1 - 1023 - 52 - 2;
    m2 = ieeeM;
  } else {
    e2 = ieeeE - 1023 - 52 - 2;
    m2 = ieeeM | 0x10000000000000;
  }
  // Interval bounds are inclusive when the significand is even (round-half-even parsing).
  let even = (m2 & 1) == 0;
  let mv = m2 << 2;
  // The lower neighbour is closer when x is a power of two (except at the smallest exponents).
  let mmShift = <u64>(ieeeM != 0 || ieeeE <= 1);
  let mm = mv - 1 - mmShift;
  // Scale by 10^-e10 so vr, vp, vm are floor(mv, mv + 2, mm * 2^e2 / 10^e10) with ~17 digits.
  let e10: i32, q: i32, j: i32;
  if (e2 >= 0) {
    q = log10Pow2(e2) - <i32>(e2 > 3);
    e10 = q;
    j = -e2 + q + POW5_BITS + pow5bits(q) - 1;
    computeInvPow5(q);
  } else {
    q = log10Pow5(-e2) - <i32>(-e2 > 1);
    e10 = q + e2;
    let i = -e2 - q;
    j = q - (pow5bits(i) - POW5_BITS);
    computePow5(i);
  }
  let vr = mulShift(mv, j);
  let vp = mulShift(mv + 2, j);
  let vm = mulShift(mm, j);

  // Was a scaling exact (nothing truncated)? Needed for inclusive bounds and exact ties.
  let vmTZ = false, vrTZ = false;
  if (e2 >= 0) {
    // Exact iff 5^q divides the numerator. Beyond q = 23, 5^q exceeds every numerator
    // (< 2^55 + 3). At most one of mm, mv, mv + 2 is a multiple of 5.
    if (q <= 23) {
      if (mv % 5 == 0) vrTZ = multipleOfPow5(mv, q);
      else if (even) vmTZ = multipleOfPow5(mm, q);
      else vp -= <u64>multipleOfPow5(mv + 2, q);
    }
  } else {
    // Exact iff 2^q divides the numerator; mv has 2 trailing zero bits, mv + 2 one,
    // mm one (mmShift) or none.
    if (q <= 1) {
      vrTZ = true;
      if (even) vmTZ = q == 0 || mmShift == 1;
      else vp--;
    } else if (q < 63) {
      vrTZ = (mv & ((<u64>1 << q) - 1)) == 0;
    }
  }

  // Drop digits while the interval still holds a shorter candidate.
  let removed: i32 = 0;
  let last: u32 = 0;
  let out: u64;
  if (vmTZ || vrTZ) {
    // Rare: exact bounds or an exact tie need the removed digits tracked.
    while (vp / 10 > vm / 10) {
      let vmq = vm / 10;
      vmTZ &= vm - vmq * 10 == 0;
      vrTZ &= last == 0;
      let vrq = vr / 10;
      last = <u32>(vr - vrq * 10);
      vr = vrq; vp /= 10; vm = vmq;
      removed++;
    }
    if (vmTZ) {
      while (true) {
        let vmq = vm / 10;
        if (vm - vmq * 10) break;
        vrTZ &= last == 0;
        let vrq = vr / 10;
        last = <u32>(vr - vrq * 10);
        vr = vrq; vp /= 10; vm = vmq;
        removed++;
      }
    }
    // Exactly halfway: round to even.
    if (vrTZ && last == 5 && (vr & 1) == 0) last = 4;
    out = vr + <u64>((vr == vm && (!even || !vmTZ)) || last >= 5);
  } else {
    let roundUp = false;
    // Most results are short: strip two digits at a time first.
    let vpq = vp / 100, vmq = vm / 100;
    if (vpq > vmq) {
      let vrq = vr / 100;
      roundUp = vr - vrq * 100 >= 50;
      vr = vrq; vp = vpq; vm = vmq;
      removed = 2;
    }
    while (true) {
      vpq = vp / 10; vmq = vm / 10;
      if (vpq <= vmq) break;
      let vrq = vr / 10;
      roundUp = vr - vrq * 10 >= 5;
      vr = vrq; vp = vpq; vm = vmq;
      removed++;
    }
    out = vr + <u64>(vr == vm || roundUp);
  }
  return layout(p, out, e10 + removed) - dst;
}

/** 10^0 .. 10^22: every one exact in a double. */
const POW10 = memory.data<f64>([
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]);
let shortDigits: u64 = 0;
let shortExp: i32 = 0;

/**
 * Most numbers people send are short decimals (20.5, 0.25, 19.99), and for them a few
 * multiplications find the answer Ryu would: the first k with y = x * 10^k an integer below
 * 10^15 whose y / 10^k is x again (the division is correctly rounded, so that is exactly "y
 * rounds to x"). With at most 15 digits the decimals 10^-k apart are several ulps apart, so y
 * is the only candidate of its length; a shorter one would be a multiple of 10^(1-k), and only
 * the two nearest y can be in the rounding interval, so checking them proves y shortest. On
 * any doubt this answers false and Ryu runs. Sets shortDigits and shortExp.
 */
// @ts-ignore: decorator
@inline function shortDecimal(x: f64): bool {
  for (let k = 1; k <= 22; k++) {
    const scale = load<f64>(POW10 + (<usize>k << 3));
    const y = x * scale;
    if (y >= 1e15) return false;
    if (y != Math.floor(y) || y / scale != x) continue;
    const q = <u64>y / 10;
    const shorter = load<f64>(POW10 + (<usize>(k - 1) << 3));
    if (<f64>q / shorter == x || <f64>(q + 1) / shorter == x) return false;
    shortDigits = <u64>y;
    shortExp = -k;
    return true;
  }
  return false;
}

/** Number::toString's layout of digits `out` times 10^exp at p; returns the end. */
// @ts-ignore: decorator
@inline function layout(p: usize, out: u64, exp: i32): usize {
  // k digits, the decimal point n digits from their start.
  let k = decimalLength(out);
  let n = exp + k;
  if (k <= n && n <= 21) {
    writeDigits(p + k, out);
    for (let z = p + k, e = p + n; z < e; z++) store<u8>(z, 0x30);
    return p + n;
  }
  if (0 < n && n <= 21) {
    // Write one byte late, then slide the integer part left over the gap.
    writeDigits(p + k + 1, out);
    for (let z: usize = 0; z < <usize>n; z++) store<u8>(p + z, load<u8>(p + z + 1));
    store<u8>(p + n, 0x2E);
    return p + k + 1;
  }
  if (-6 < n && n <= 0) {
    store<u16>(p, 0x2E30); // "0."
    for (let z = p + 2, e = p + 2 - n; z < e; z++) store<u8>(z, 0x30);
    let end = p + 2 - n + k;
    writeDigits(end, out);
    return end;
  }
  writeDigits(p + k + 1, out);
  store<u8>(p, load<u8>(p + 1));
  let w = p + 1;
  if (k > 1) {
    store<u8>(w, 0x2E);
    w += k;
  }
  let e = n - 1;
  store<u8>(w++, 0x65);
  if (e < 0) {
    store<u8>(w++, 0x2D);
    e = -e;
  } else {
    store<u8>(w++, 0x2B);
  }
  let el = e < 10 ? 1 : e < 100 ? 2 : 3;
  w += el;
  writeDigits(w, <u64>e);
  return w;
}
