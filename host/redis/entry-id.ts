// Redis stream entry ids, "<ms>-<seq>": two unsigned 64-bit decimals that order the log. An id
// from us never has leading zeros, so a Last-Event-ID that is not in this exact form was never
// one of this channel's and is answered without asking Redis.
const ENTRY_ID = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;
const U64_MAX = "18446744073709551615";

/** The longest entry id: a frame that fits with it fits with any id Redis assigns. */
export const LONGEST_ID = `${U64_MAX}-${U64_MAX}`;

export function isEntryId(id: string): boolean {
  const m = ENTRY_ID.exec(id);
  return m !== null && fitsU64(m[1]!) && fitsU64(m[2]!);
}

/** Negative, zero or positive as entry id `a` is before, the same as, or after `b`. */
export function compareIds(a: string, b: string): number {
  const ad = a.indexOf("-");
  const bd = b.indexOf("-");
  return compareDecimals(a.slice(0, ad), b.slice(0, bd)) || compareDecimals(a.slice(ad + 1), b.slice(bd + 1));
}

function fitsU64(digits: string): boolean {
  return digits.length < 20 || digits <= U64_MAX;
}

function compareDecimals(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
