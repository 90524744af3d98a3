// Generates (and with --check, verifies) the constant tables of assembly/number.ts with BigInt.
//   node assembly/number-tables.mjs          print the tables as AssemblyScript source
//   node assembly/number-tables.mjs --check  exit 1 unless number.ts holds exactly these tables
// POW5_BASE[b]     = 5^(26b) normalised to 125 bits (floor).
// INV_POW5_BASE[b] = floor(2^(pow5bits(26b) - 1 + 125) / 5^(26b)).
// The full Ryu multipliers for any exponent are rebuilt from a base times 5^offset (POW5_U64);
// the 2-bit corrections make the result equal to the exact value:
//   pow5(i)     = floor(5^i normalised to 125 bits)
//   invPow5(q)  = floor(2^(pow5bits(q) - 1 + 125) / 5^q) + 1
import { readFileSync } from "node:fs";

const BITS = 125, STEP = 26, MAX_POW5 = 325, MAX_INV = 292;
const pow5bits = (e) => ((e * 1217359) >>> 19) + 1;
const bitlen = (v) => v.toString(2).length;
const pow5 = (i) => {
  const p = 5n ** BigInt(i), b = bitlen(p);
  return b >= BITS ? p >> BigInt(b - BITS) : p << BigInt(BITS - b);
};
const invFloor = (q) => (1n << BigInt(pow5bits(q) - 1 + BITS)) / 5n ** BigInt(q);
const invPow5 = (q) => invFloor(q) + 1n;

// Sanity of the integer log approximations number.ts relies on, over the ranges it uses.
for (let e = 1; e <= 1100; e++) {
  if (pow5bits(e) !== bitlen(5n ** BigInt(e))) throw new Error("pow5bits " + e);
  if (((e * 78913) >>> 18) !== (2n ** BigInt(e)).toString().length - 1) throw new Error("log10Pow2 " + e);
  if (((e * 732923) >>> 20) !== (5n ** BigInt(e)).toString().length - 1) throw new Error("log10Pow5 " + e);
}

const mask64 = (1n << 64n) - 1n;
const hex = (v) => "0x" + v.toString(16).padStart(16, "0");
const pack = (corr) => {
  const words = [];
  for (let i = 0; i < corr.length; i += 16) {
    let w = 0n;
    for (let j = 0; j < 16 && i + j < corr.length; j++) {
      const c = corr[i + j];
      if (c < 0n || c > 3n) throw new Error("correction out of range");
      w |= c << BigInt(2 * j);
    }
    words.push("0x" + w.toString(16).padStart(8, "0"));
  }
  return words;
};

const pow5Base = [], invBase = [], pow5Corr = [], invCorr = [];
for (let b = 0; b * STEP <= MAX_POW5; b++) pow5Base.push(pow5(b * STEP));
for (let b = 0; (b - 1) * STEP < MAX_INV; b++) invBase.push(invFloor(b * STEP));
for (let i = 0; i <= MAX_POW5; i++) {
  const b = Math.floor(i / STEP), off = i - b * STEP;
  const approx = (5n ** BigInt(off) * pow5Base[b]) >> BigInt(pow5bits(i) - pow5bits(b * STEP));
  pow5Corr.push(pow5(i) - approx);
}
for (let q = 0; q <= MAX_INV; q++) {
  const b = Math.ceil(q / STEP), off = b * STEP - q;
  const approx = (5n ** BigInt(off) * invBase[b]) >> BigInt(pow5bits(b * STEP) - pow5bits(q));
  invCorr.push(invPow5(q) - approx);
}

const u128 = (v) => `${hex(v & mask64)}, ${hex(v >> 64n)}`;
const lines = (xs, per) => {
  const out = [];
  for (let i = 0; i < xs.length; i += per) out.push("  " + xs.slice(i, i + per).join(", ") + ",");
  return out.join("\n");
};
const tables = {
  POW5_BASE: lines(pow5Base.map(u128), 1),
  INV_POW5_BASE: lines(invBase.map(u128), 1),
  POW5_U64: lines([...Array(STEP).keys()].map((i) => hex(5n ** BigInt(i))), 3),
  POW5_CORR: lines(pack(pow5Corr), 6),
  INV_POW5_CORR: lines(pack(invCorr), 6),
};

if (process.argv.includes("--check")) {
  const src = readFileSync(new URL("./number.ts", import.meta.url), "utf8");
  let ok = true;
  for (const [name, body] of Object.entries(tables)) {
    const m = src.match(new RegExp(`const ${name}[^\\[]*\\[\\n([\\s\\S]*?)\\n\\]\\)`));
    const norm = (s) => s.replace(/\s+/g, "");
    if (!m || norm(m[1]) !== norm(body)) { console.error(`table ${name} differs`); ok = false; }
  }
  if (!ok) process.exit(1);
  console.log("tables ok");
} else {
  for (const [name, body] of Object.entries(tables)) console.log(`${name}:\n${body}\n`);
}
