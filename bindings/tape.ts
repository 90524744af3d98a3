// The JSON value tape (format: assembly/json.ts). This file makes every decision that
// JSON.stringify makes in JavaScript (ECMA-262 SerializeJSONProperty): toJSON, boxed
// primitives, which values are skipped, BigInt and cycles; the core writes the text.
//
// Rules
// - A value is touched only as JSON.stringify touches it, in its order: [[Get]] of toJSON,
//   internal-slot tests (brands.ts), IsArray, one EnumerableOwnProperties (Object.keys) per
//   object, then [[Get]] per key. Never a prototype walk or for…in: a Proxy would see them, and
//   a key someone put on Object.prototype would join the object's own.
// - Shapes are a cache of own key lists, never of what an object inherits: a shape is used
//   only when the object's own key list, just read, equals the shape's.
// - Every item's tape is at most 3 × its JSON text with separator, so what fits a frame
//   fits staging (assembly/json.ts; the engine stages 4 × a frame's bytes).
// - One write at a time: a toJSON, getter or trap that sends on the same engine is refused by
//   the engine before it reaches here (Engine.stage), so no state of one write leaks into another.
import { mayBeBoxed, unboxed } from "./brands.js";
import { EncodeViews } from "./encode-views.js";
import { errorFor, FrameTooLargeError, JsonValueError, Status } from "./errors.js";
// The core's tags and MAX_DEPTH: deeper values are refused here, before any byte is staged.
import {
  MAX_DEPTH, TAG_NULL, TAG_FALSE, TAG_TRUE, TAG_NUMBER, TAG_STR8, TAG_STR16, TAG_ARRAY, TAG_ARRAY_END, TAG_OBJECT,
  TAG_OBJECT_END, TAG_KEY8, TAG_KEY16, TAG_SHAPE, TAG_SKIP, TAG_STR_AT, TAG_INT32, TAG_SKIPS,
} from "../assembly/abi.js";

/** Strings up to this length are copied by hand: below ~16 characters that beats encodeInto (V8 11). */
const SHORT = 16;

/** Asks the core to render a key list staged at [at, at + len); returns its id, or < 0. */
export type DefineShape = (at: number, len: number) => number;

/**
 * Where repeated strings are kept: [start, end) of memory, inside staging (which begins at
 * `base`) and outside the space tapes are written to, so only keep() writes there.
 */
export interface KeptTexts {
  readonly base: number;
  readonly start: number;
  readonly end: number;
}

/** Strings up to this length are kept once they repeat: the values of enum-like members. */
const MAX_KEPT = 64;

/**
 * Writes the values of an object of one shape (compiled for it: see compileReader); `m` is
 * the shape's memo of kept strings: per member, the kept string, its offset from staging's
 * start, its UTF-8 byte count, and the string last seen there.
 */
type ShapeReader = (w: ShapeReaderCalls, o: Record<string, unknown>, m: unknown[]) => void;

/** What compiled readers call on the writer (compileReader): TapeWriter implements it. */
interface ShapeReaderCalls {
  number(n: number): void;
  string(s: string, key: boolean): void;
  stringAt(at: number, len: number): void;
  member(s: string, m: unknown[], j: number): void;
  value(v: unknown, key: string | number): boolean;
  skip(): void;
}

/** The names compiled code calls, each checked to be exactly a method of ShapeReaderCalls. */
const CALL: { readonly [K in keyof ShapeReaderCalls]: K } = {
  number: "number", string: "string", stringAt: "stringAt", member: "member", value: "value", skip: "skip",
};

interface Shape {
  readonly id: number;
  readonly keys: readonly string[];
  /** Undefined: its values are read in a loop over `keys`. */
  readonly read: ShapeReader | undefined;
  readonly memo: unknown[];
}

export class TapeWriter implements ShapeReaderCalls {
  private readonly u8: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private end = 0;
  /** The containers being written, outermost first; only [0, depth) is live. */
  private readonly stack: (object | undefined)[] = [];
  private depth = 0;
  /** Shapes the core knows, by their key list (JSON of it); null: a list the core refused. */
  private readonly shapes = new Map<string, Shape | null>();
  /** The core's shape table is full: no list is offered again, so `shapes` stops growing. */
  private shapesFull = false;
  /** Where the last skip item (0x0D or 0x10) starts, while it may still grow into a run; else -1. */
  private skipAt = -1;
  /**
   * The shape last seen at each depth: objects in a loop or an array usually repeat it. Every
   * slot is its own (filled, never a hole): a hole would read through to Object.prototype,
   * where a polluted index could pass for a shape.
   */
  private readonly recent: (Shape | undefined)[] = new Array<Shape | undefined>(MAX_DEPTH + 1).fill(undefined);

  private readonly encoded: EncodeViews;
  /** The next free byte of the kept-text space. */
  private kept = 0;
  /** The kept-text space is full: forget every kept string at the next write's start. */
  private keptFull = false;
  /** The tape being (or last) written names a kept string. */
  private namesKept = false;
  /** Held copies of tapes that name kept strings (Engine.hold): the space may not start over. */
  private pins = 0;

  /**
   * `encoded`, if given, encodes into the same memory (the engine shares its own); `define`
   * enables shapes; `compile`: whether each shape gets a compiled reader (compileReader),
   * which keeps repeated short strings in `texts` if given.
   */
  constructor(
    memory: ArrayBuffer,
    encoded?: EncodeViews,
    private readonly define?: DefineShape,
    private readonly compile = true,
    private readonly texts?: KeptTexts,
  ) {
    this.u8 = new Uint8Array(memory);
    this.view = new DataView(memory);
    this.encoded = encoded ?? new EncodeViews(this.u8);
    this.kept = texts?.start ?? 0;
  }

  /**
   * Writes the tape of `value` into [start, end); returns the tape's length, or -1 when
   * JSON.stringify would return undefined (nothing to send).
   */
  write(value: unknown, start: number, end: number): number {
    if (this.keptFull && this.pins === 0) this.forgetKept();
    this.namesKept = false;
    this.pos = start;
    this.end = end;
    this.skipAt = -1;
    try {
      return this.value(value, "") ? this.pos - start : -1;
    } finally {
      // A throw (cycle, BigInt, a toJSON that threw) leaves containers entered: let them go.
      while (this.depth > 0) this.leave();
    }
  }

  /** SerializeJSONProperty: false where JSON.stringify yields undefined. */
  value(v: unknown, key: string | number): boolean {
    // Numbers and strings first: they are most of every payload, and need no toJSON lookup.
    if (typeof v === "number") {
      this.number(v);
      return true;
    }
    if (typeof v === "string") {
      this.string(v, false);
      return true;
    }
    // Step 2: an Object (a function too) or a BigInt may have toJSON.
    if (typeof v === "object" && v !== null) {
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return this.resolved(toJSON.call(v, String(key)));
      // Arrays and the common object, written out here (resolved() as a call costs a record
      // ~5%); only a box goes on to step 4 there.
      if (Array.isArray(v)) {
        this.array(v);
        return true;
      }
      if (!mayBeBoxed(v)) {
        this.object(v);
        return true;
      }
    } else if (typeof v === "function" || typeof v === "bigint") {
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return this.resolved(toJSON.call(v, String(key)));
    }
    return this.resolved(v);
  }

  /** SerializeJSONProperty from step 4 on: `v` is past toJSON. */
  private resolved(v: unknown): boolean {
    switch (typeof v) {
      case "string":
        this.string(v, false);
        return true;
      case "number":
        this.number(v);
        return true;
      case "boolean":
        this.tag(v ? TAG_TRUE : TAG_FALSE);
        return true;
      case "bigint":
        throw new JsonValueError("a BigInt cannot be serialised to JSON");
      case "object": {
        if (v === null) {
          this.tag(TAG_NULL);
          return true;
        }
        // IsArray sees through a Proxy and ignores the prototype, as step 11 does; no array
        // carries a primitive's slot, so the box test (step 4) can come after it.
        if (Array.isArray(v)) {
          this.array(v);
          return true;
        }
        if (mayBeBoxed(v)) {
          const primitive = unboxed(v);
          if (primitive !== v) return this.resolved(primitive);
        }
        this.object(v);
        return true;
      }
      default:
        return false; // undefined, functions and symbols
    }
  }

  number(n: number): void {
    // -0 passes as 0, which is how JSON.stringify writes it.
    if ((n | 0) === n) {
      this.room(5);
      this.u8[this.pos] = TAG_INT32;
      this.view.setInt32(this.pos + 1, n, true);
      this.pos += 5;
      return;
    }
    this.room(9);
    this.u8[this.pos] = TAG_NUMBER;
    this.view.setFloat64(this.pos + 1, n, true);
    this.pos += 9;
  }

  private array(a: readonly unknown[]): void {
    this.enter(a);
    this.tag(TAG_ARRAY);
    const n = a.length;
    for (let i = 0; i < n; i++) if (!this.value(a[i], i)) this.tag(TAG_NULL);
    this.tag(TAG_ARRAY_END);
    this.leave();
  }

  /** An object that is not an array: SerializeJSONObject. */
  private object(o: object): void {
    const keys = Object.keys(o); // EnumerableOwnProperties: once, as JSON.stringify does
    if (this.define !== undefined) {
      const recent = this.recent[this.depth];
      const shape = recent !== undefined && sameKeys(keys, recent.keys) ? recent : this.shapeOf(keys);
      if (shape !== undefined) return this.shaped(o as Record<string, unknown>, shape);
    }
    this.spelled(o, keys);
  }

  /** An object without a shape: each member's key, then its value. */
  private spelled(o: object, keys: readonly string[]): void {
    this.enter(o);
    this.tag(TAG_OBJECT);
    const record = o as Record<string, unknown>;
    for (const k of keys) {
      const mark = this.pos;
      this.string(k, true);
      if (!this.value(record[k], k)) this.pos = mark; // a skipped member leaves no key behind
    }
    this.tag(TAG_OBJECT_END);
    this.leave();
  }

  /**
   * An object whose own keys are its shape's: the shape's id, then its values in key order,
   * each read with [[Get]] (a key a getter deleted on the way reads undefined and is left
   * out, as JSON.stringify leaves it), by the shape's compiled reader or a loop.
   */
  private shaped(o: Record<string, unknown>, shape: Shape): void {
    this.enter(o);
    this.room(3);
    this.u8[this.pos] = TAG_SHAPE;
    this.view.setUint16(this.pos + 1, shape.id, true);
    this.pos += 3;
    if (shape.read !== undefined) {
      shape.read(this, o, shape.memo);
      return this.leave();
    }
    for (const k of shape.keys) {
      // value()'s first two cases, written out: the call costs a shaped object's tape ~10%.
      const v = o[k];
      if (typeof v === "number") this.number(v);
      else if (typeof v === "string") this.string(v, false);
      else if (!this.value(v, k)) this.skip();
    }
    this.leave();
  }

  /**
   * A member of a shaped object left out: 0x0D, or a run (0x10, count) once a second one
   * follows it, so skipped members cost at most 2 bytes of tape per object, not one each.
   */
  skip(): void {
    const p = this.pos;
    const at = this.skipAt;
    if (at === p - 1) {
      this.room(1);
      this.u8[at] = TAG_SKIPS;
      this.u8[p] = 2;
      this.pos = p + 1;
    } else if (at === p - 2 && this.u8[at] === TAG_SKIPS && this.u8[p - 1]! < 255) {
      this.u8[p - 1]!++;
    } else {
      this.tag(TAG_SKIP);
      this.skipAt = p;
    }
  }

  /** The shape of an object with these own enumerable keys: defined on first sight. */
  private shapeOf(keys: readonly string[]): Shape | undefined {
    if (keys.length === 0 || keys.length > MAX_SHAPE_KEYS) return undefined;
    const name = JSON.stringify(keys);
    let shape = this.shapes.get(name);
    if (shape === undefined) {
      if (this.shapesFull) return undefined;
      shape = this.defineShape(keys);
      if (shape === undefined) return undefined;
      this.shapes.set(name, shape);
    }
    if (shape !== null) this.recent[this.depth] = shape;
    return shape ?? undefined;
  }

  /**
   * Stages the key list past the tape written so far and has the core render it; null if the
   * core refuses the list, undefined if there is no staging room for it now (asked again later).
   */
  private defineShape(keys: readonly string[]): Shape | null | undefined {
    const mark = this.pos;
    let id: number;
    try {
      this.room(4);
      this.view.setUint32(this.pos, keys.length, true);
      this.pos += 4;
      for (const k of keys) this.string(k, true);
      id = this.define!(mark, this.pos - mark);
    } catch (error) {
      if (error instanceof FrameTooLargeError) return undefined; // this object goes spelled out
      throw error;
    } finally {
      this.pos = mark;
    }
    if (id === Status.CAPACITY) this.shapesFull = true;
    if (id < 0) return null;
    const read = this.compile ? compileReader(keys, this.texts !== undefined) : undefined;
    const memo = read !== undefined && this.texts !== undefined ? new Array<unknown>(4 * keys.length).fill(undefined) : [];
    return { id, keys, read, memo };
  }

  /**
   * For compiled readers: a string member (memo slot j) other than the slot's kept string.
   * It is kept once it comes twice in a row, as enum-like values do, else written inline.
   * Kept strings cross as their place in staging (0x0E): their characters are copied in once.
   */
  member(s: string, m: unknown[], j: number): void {
    if (s === m[j + 3] && this.keep(s, m, j)) return this.stringAt(m[j + 1] as number, m[j + 2] as number);
    m[j + 3] = s.length <= MAX_KEPT ? s : undefined;
    this.string(s, false);
  }

  /**
   * Copies s (UTF-8) into the kept-text space and makes it slot j's kept string; false if s
   * has lone surrogates or the space is full. The space is only appended to while a tape is
   * written (the tape may already point into it); it starts over at the next write.
   */
  private keep(s: string, m: unknown[], j: number): boolean {
    const texts = this.texts!;
    const at = this.kept;
    const n = s.length;
    if (at + 3 * n > texts.end) {
      this.keptFull = true;
      return false;
    }
    // Once per kept string, so no hand-copied ASCII path here.
    if (!s.isWellFormed()) return false;
    const len = this.encoded.encode(s, at, texts.end).written;
    this.kept = at + len;
    m[j] = s;
    m[j + 1] = at - texts.base;
    m[j + 2] = len;
    return true;
  }

  /**
   * The last tape is being copied to be sent later: if it names kept strings, they stay where
   * they are (nothing new is kept once the space is full) until unpinKept. Whether it pinned.
   */
  pinKept(): boolean {
    if (!this.namesKept) return false;
    this.pins++;
    return true;
  }

  unpinKept(): void {
    this.pins--;
  }

  /** Empties the kept-text space: every shape forgets its kept strings. */
  private forgetKept(): void {
    this.keptFull = false;
    this.kept = this.texts!.start;
    for (const shape of this.shapes.values()) shape?.memo.fill(undefined);
  }

  /** A string kept in staging, `len` bytes at offset `at`. */
  stringAt(at: number, len: number): void {
    this.namesKept = true;
    this.room(9);
    this.u8[this.pos] = TAG_STR_AT;
    this.view.setUint32(this.pos + 1, at, true);
    this.view.setUint32(this.pos + 5, len, true);
    this.pos += 9;
  }

  private enter(o: object): void {
    const stack = this.stack;
    for (let i = 0; i < this.depth; i++) {
      if (stack[i] === o) throw new JsonValueError("a cyclic structure cannot be serialised to JSON");
    }
    if (this.depth === MAX_DEPTH) throw new JsonValueError(`JSON nesting deeper than ${MAX_DEPTH} levels is refused`);
    stack[this.depth++] = o;
  }

  private leave(): void {
    // Cleared, not popped: the array keeps its size, and no payload outlives its send.
    this.stack[--this.depth] = undefined;
    this.skipAt = -1; // a run never reaches past its object's end (a shaped object has no end tag)
  }

  private tag(t: number): void {
    this.room(1);
    this.u8[this.pos++] = t;
  }

  /** Well-formed text goes as UTF-8; text with lone surrogates as UTF-16, which the core escapes. */
  string(s: string, key: boolean): void {
    const n = s.length;
    const u8 = this.u8;
    const head = this.pos;
    const body = head + 5;
    if (n <= SHORT && body + n <= this.end) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        u8[body + i] = c;
      }
      if (i === n) return this.stringHead(key ? TAG_KEY8 : TAG_STR8, n, body + n);
    }
    if (s.isWellFormed()) {
      this.room(5 + n);
      const { read, written } = this.encoded.encode(s, body, this.end);
      if (read !== n) throw this.tooLarge();
      return this.stringHead(key ? TAG_KEY8 : TAG_STR8, written, body + written);
    }
    this.room(5 + 2 * n);
    for (let i = 0; i < n; i++) this.view.setUint16(body + 2 * i, s.charCodeAt(i), true);
    this.stringHead(key ? TAG_KEY16 : TAG_STR16, n, body + 2 * n);
  }

  private stringHead(tag: number, count: number, next: number): void {
    this.u8[this.pos] = tag;
    this.view.setUint32(this.pos + 1, count, true);
    this.pos = next;
  }

  private room(n: number): void {
    if (this.pos + n > this.end) throw this.tooLarge();
  }

  private tooLarge(): Error {
    return errorFor(Status.TOO_LARGE, "the JSON payload does not fit the staging space");
  }
}

/** Whether two key lists are the same, in order. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `new Function` works here: false once the host refused it (EvalError). */
let codeGeneration = true;

/**
 * A reader for one shape, compiled once: a named load per member (`o["key"]`, served by an
 * inline cache) costs less than a keyed load per key in a loop, about 8% of a record
 * stream's CPU per event. Members are read in key order with [[Get]], as JSON.stringify
 * reads them, so a key a getter deleted reads as undefined and becomes a skip. The code
 * calls the writer's methods by name; keys go in as JSON string literals, so no key can
 * change the code. With `keep`, a string member equal to its kept string (TapeWriter.member)
 * costs one comparison and a 9-byte reference. Undefined where code generation from
 * strings is refused (a CSP without 'unsafe-eval', Cloudflare Workers, node
 * --disallow-code-generation-from-strings): those hosts read shapes in a loop over the keys.
 * The methods it calls are spelled by CALL, so renaming one fails to compile.
 */
function compileReader(keys: readonly string[], keep: boolean): ShapeReader | undefined {
  if (!codeGeneration) return undefined;
  let body = "let v;\n";
  keys.forEach((key, i) => {
    const k = JSON.stringify(key);
    const j = 4 * i;
    const text = keep ? `if (v === m[${j}]) w.${CALL.stringAt}(m[${j + 1}], m[${j + 2}]); else w.${CALL.member}(v, m, ${j});` : `w.${CALL.string}(v, false);`;
    body += `v = o[${k}]; if (typeof v === "number") w.${CALL.number}(v); else if (typeof v === "string") { ${text} } else if (!w.${CALL.value}(v, ${k})) w.${CALL.skip}();\n`;
  });
  try {
    return new Function("w", "o", "m", body) as ShapeReader;
  } catch (error) {
    if (!(error instanceof EvalError)) throw error;
    codeGeneration = false;
    return undefined;
  }
}

/** Objects with more keys than this are spelled out: the shape table is for small records. */
const MAX_SHAPE_KEYS = 64;
