// Random object graphs for the JSON differential test (test/json-differential.test.ts).
//
// A session is a generator of values to send, driven by a seeded PRNG: records that reuse and
// mutate shapes, Object.prototype pollution, hostile values (toJSON, getters, Proxies, odd
// prototypes, other realms), refused values, deep nesting, large arrays. Running a session
// twice from one seed gives two structurally identical twins, one for JSON.stringify and one
// for the engine, so values whose serialisation is observable (getters that mutate, traps that
// count their calls) need no special care: each twin sees its own first serialisation. No
// hostile code draws from the PRNG, so the twins stay in step whatever serialising them does.
import { inspect, types } from "node:util";
import vm from "node:vm";
import { FrameTooLargeError, JsonValueError } from "../../bindings/index.js";
import { rng } from "../support/wasm.js";

export type Rng = () => number;

/** An Object.prototype key added around both serialisations of a step (then deleted). */
export interface Pollution {
  readonly key: string;
  readonly value: unknown;
  readonly enumerable: boolean;
}

export interface Step {
  readonly value: unknown;
  /** What kind of value this is: failures are grouped by it. */
  readonly label: string;
  readonly pollute?: Pollution;
}

export interface Session {
  readonly name: string;
  readonly weight: number;
  make(r: Rng): Iterator<Step, void>;
}

/** Thrown by hostile getters and toJSONs: a send must reject with it as JSON.stringify throws it. */
class HostileError extends Error {}

const below = (r: Rng, n: number): number => Math.floor(r() * n);
const chance = (r: Rng, p: number): boolean => r() < p;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[below(r, xs.length)]!;
const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

// ---- leaves ----

const SPECIAL_NUMBERS = [0, -0, 1, -1, NaN, Infinity, -Infinity, 5e-324, -5e-324, Number.MAX_VALUE, Number.MIN_VALUE,
  Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 2 ** 64, 1e21, 1e-7, 1e-6, 0.1, 0.30000000000000004, 1 / 3, 123e-20];
const bits = new Float64Array(1);
const bitWords = new Uint32Array(bits.buffer);

/** Numbers of every kind: small integers (most real payloads), edge cases, any bit pattern, any scale. */
function number(r: Rng): number {
  switch (below(r, 6)) {
    case 0:
    case 1:
      return below(r, 1000);
    case 2:
      return pick(r, SPECIAL_NUMBERS);
    case 3:
      bitWords[0] = r() * 2 ** 32;
      bitWords[1] = r() * 2 ** 32;
      return bits[0]!;
    case 4:
      return Number(`${below(r, 1e9)}e${below(r, 660) - 340}`);
    default:
      return (r() - 0.5) * 2 ** (below(r, 128) - 64);
  }
}

const PIECES = ["a", "hello world", "é", "ключ", "中文", "😀", "\ud800", "\udc00", "\ud83d", '"', "\\", "/", "\b\f\n\r\t",
  "\x00\x01\x1f", "\x7f", "\u2028\u2029", "</script>", "\uFEFF", "a\ud800\udc00b", " "];
/** Enum-like values repeat, so the engine's kept strings (a member's value seen twice in a row) come into play. */
const ENUMS = ["ok", "warn", "error", "", "ok\n", "😀"];

function string(r: Rng): string {
  if (chance(r, 0.03)) return pick(r, PIECES).repeat(20 + below(r, 200));
  let s = "";
  for (let n = below(r, 5); n > 0; n--) s += pick(r, PIECES);
  return s;
}

// ---- records and shapes ----

const COMMON_KEYS = ["id", "name", "value", "type", "isAdmin", "count", "a", "b", "c", "tags", "status", "nested"];
const ODD_KEYS = ["0", "1", "2", "10", "-1", "1.5", "4294967294", "4294967295", "", 'q"uote', "line\nbreak", "back\\slash",
  "\u2028", "\ud800", "é", "😀", "__proto__", "toJSON", "constructor", "k".repeat(70), `long-${"key".repeat(100)}`];

/** Key lists that records share, so shapes repeat (the engine defines one per list, and caches the last one per depth). */
const FAMILIES: readonly (readonly string[])[] = (() => {
  const r = rng(0x5eed);
  const families: string[][] = [["isAdmin"], ["id", "name"], ["a", "b", "c"], ["b", "1", "a", "0"], ["__proto__", "a"]];
  while (families.length < 48) {
    const keys = new Set<string>();
    for (let n = 1 + below(r, 12); keys.size < n; ) keys.add(chance(r, 0.8) ? pick(r, COMMON_KEYS) : pick(r, ODD_KEYS));
    families.push([...keys]);
  }
  families.push(times(64, (i) => `k${i}`), times(65, (i) => `k${i}`), times(100, (i) => `wide_${i}`));
  return families;
})();
const WIDE_FAMILIES = FAMILIES.filter((keys) => keys.length >= 3);

/** An own enumerable data property; "__proto__" needs defineProperty (assigning it sets the prototype). */
function put(o: object, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else (o as Record<string, unknown>)[key] = value;
}

function record(r: Rng, depth: number, keys = pick(r, FAMILIES)): Record<string, unknown> {
  const o = {};
  for (const k of keys) put(o, k, member(r, depth + 1));
  return o;
}

/** A member's value: its type changes from send to send while the record's shape stays. */
function member(r: Rng, depth: number): unknown {
  switch (below(r, 16)) {
    case 0:
    case 1:
    case 2:
      return number(r);
    case 3:
    case 4:
      return pick(r, ENUMS);
    case 5:
      return string(r);
    case 6:
      return chance(r, 0.5);
    case 7:
      return null;
    case 8:
      return undefined;
    case 9:
      return () => 1;
    case 10:
      return Symbol("member");
    case 11:
      return depth < 6 ? record(r, depth) : 0;
    case 12:
      return depth < 6 ? times(below(r, 5), () => member(r, depth + 1)) : [];
    case 13:
      return depth < 6 ? hostile(r, depth).value : null;
    default:
      return below(r, 100);
  }
}

// ---- hostile values (JSON.stringify may still serialise them, or skip them, or throw) ----

class Point {
  #secret = 1;
  constructor(readonly x: unknown, readonly label: unknown) {}
  get norm(): number {
    return this.#secret;
  }
}

class Temperature {
  constructor(readonly celsius: number) {}
  toJSON(key: string) {
    return { key, celsius: this.celsius };
  }
}

class List extends Array<unknown> {}

/** Another realm's constructors (vm): its objects fail `instanceof Object` and its arrays are arrays. */
const realm = vm.runInNewContext(`({
  object: (entries) => Object.fromEntries(entries),
  nullObject: (entries) => Object.assign(Object.create(null), Object.fromEntries(entries)),
  array: (items) => Array.from(items),
  bytes: (list) => new Uint8Array(list),
  floats: (list) => new Float64Array(list),
  date: (ms) => new Date(ms),
  map: () => new Map([[1, 2]]),
  boxed: (v) => Object(v),
  withToJSON: (v) => Object.assign(() => 0, { toJSON: () => v }),
})`) as {
  object(entries: [string, unknown][]): object;
  nullObject(entries: [string, unknown][]): object;
  array(items: unknown[]): unknown[];
  bytes(list: number[]): Uint8Array;
  floats(list: number[]): Float64Array;
  date(ms: number): Date;
  map(): object;
  boxed(v: unknown): object;
  withToJSON(v: unknown): () => number;
};

type Maker = (r: Rng, depth: number) => unknown;

/** What a toJSON may return: JSON.stringify takes it as it is, never calling a toJSON on it again. */
const TO_JSON_RESULTS: readonly Maker[] = [
  () => undefined,
  () => () => 1,
  () => Symbol("from toJSON"),
  (r) => number(r),
  (r) => string(r),
  () => null,
  (r, d) => [member(r, d + 1)],
  (r, d) => record(r, d),
  () => ({ inner: { toJSON: () => "inner toJSON runs" }, self: { toJSON: () => "once" } }),
  () => ({ toJSON: () => "not called again" }),
  () => new Date(0),
  (r) => new Number(number(r)),
  () => new Map([[1, 2]]),
];

const EXOTICS: readonly (() => object)[] = [
  () => new Map([[1, 2]]),
  () => new Set([1]),
  () => new WeakMap(),
  () => /re/g,
  () => Object.assign(new Error("e"), { code: 7 }),
  () => new ArrayBuffer(4),
  () => new DataView(new ArrayBuffer(2)),
  () => Object(Symbol("boxed")),
  () => Object.assign(new Map(), { own: 1 }),
  () => ({ [Symbol("k")]: 1, visible: 2 }),
  () => Object.defineProperty({ shown: 1 }, "hidden", { value: 2, enumerable: false }),
  () => (function (..._args: unknown[]) {
    return arguments; // eslint-disable-line prefer-rest-params
  })(1, "two"),
];

const TYPED_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array];

function typedArray(r: Rng): unknown {
  if (chance(r, 0.2)) return Buffer.from(string(r)); // Buffer has its own toJSON
  const Ctor = pick(r, TYPED_ARRAYS);
  return new Ctor(times(below(r, 6), () => number(r)));
}

function boxed(r: Rng): unknown {
  switch (below(r, 6)) {
    case 0:
      return new Number(number(r));
    case 1:
      return new String(string(r));
    case 2:
      return new Boolean(chance(r, 0.5));
    case 3:
      return Object.assign(new Number(1), { valueOf: () => 42, extra: 1 });
    case 4:
      return Object.assign(new String("s"), { toString: () => "t" });
    default:
      return Object.assign(new String("boxed"), { toJSON: (key: string) => `toJSON of a String, key ${key}` });
  }
}

/** A boxed primitive with another prototype: JSON.stringify still converts it (ToNumber/ToString), or throws trying. */
function reprototypedBoxed(r: Rng): unknown {
  const box = pick<() => object>(r, [() => new Number(number(r)), () => new String(string(r)), () => new Boolean(chance(r, 0.5))])();
  const proto = pick<object | null>(r, [null, Object.prototype, Array.prototype, String.prototype, Number.prototype,
    { valueOf: () => 7 }, { toString: () => "nine" }]);
  return Object.setPrototypeOf(box, proto);
}

function oddArray(r: Rng, depth: number): unknown {
  const items = times(below(r, 5), () => member(r, depth + 1));
  switch (below(r, 8)) {
    case 0:
      return Object.setPrototypeOf(items, Object.prototype);
    case 1:
      return Object.setPrototypeOf(items, null);
    case 2:
      return List.from(items);
    case 3:
      return Object.assign(items, { toJSON: (key: string) => `array toJSON, key ${key}` });
    case 4:
      return Object.assign(items, { extra: "not an index" });
    case 5: {
      const holes = new Array<unknown>(items.length + 2);
      items.forEach((v, i) => i % 2 === 0 && (holes[i] = v));
      return holes;
    }
    case 6: {
      // A getter that shortens the array: JSON.stringify read the length first.
      const a = [1, 2, 3, 4, ...items];
      Object.defineProperty(a, 1, { get: () => ((a.length = 2), "shrunk"), enumerable: true, configurable: true });
      return a;
    }
    default:
      return Object.setPrototypeOf({ 0: items[0], length: 1 }, Array.prototype); // array-like, not an array
  }
}

/** Traps JSON.stringify calls (get, ownKeys, getOwnPropertyDescriptor) and one it never calls (getPrototypeOf). */
function proxyOfObject(r: Rng, depth: number): unknown {
  const target = record(r, depth, pick(r, WIDE_FAMILIES));
  const out = member(r, depth + 1);
  switch (below(r, 8)) {
    case 0:
      return new Proxy(target, {});
    case 1: {
      let reads = 0; // each member read answers its sequence number: a second read shows
      return new Proxy(target, { get: (t, k, rcv) => (k === "toJSON" || typeof k === "symbol" ? Reflect.get(t, k, rcv) : reads++) });
    }
    case 2: {
      let calls = 0; // the first answer is the real one, later ones drop the first key and reverse
      return new Proxy(target, { ownKeys: (t) => (++calls === 1 ? Reflect.ownKeys(t) : Reflect.ownKeys(t).slice(1).reverse()) });
    }
    case 3:
      return new Proxy(target, {
        getOwnPropertyDescriptor: (t, k) => {
          const d = Reflect.getOwnPropertyDescriptor(t, k);
          return d && k === Reflect.ownKeys(t)[0] ? { ...d, enumerable: false } : d;
        },
      });
    case 4:
      return new Proxy(target, { getPrototypeOf: () => { throw new HostileError("getPrototypeOf trap"); } });
    case 5:
      return new Proxy(target, { getPrototypeOf: () => Array.prototype });
    case 6:
      return new Proxy(target, { getPrototypeOf: () => null });
    default:
      return new Proxy(target, { get: (t, k, rcv) => (k === "toJSON" ? () => out : Reflect.get(t, k, rcv)) });
  }
}

function proxyOfArray(r: Rng, depth: number): unknown {
  const target = times(below(r, 6), () => member(r, depth + 1));
  switch (below(r, 6)) {
    case 0:
      return new Proxy(target, {});
    case 1:
      return new Proxy(target, { getPrototypeOf: () => Object.prototype });
    case 2:
      return new Proxy(target, { getPrototypeOf: () => null });
    case 3:
      return new Proxy(target, { getPrototypeOf: () => { throw new HostileError("getPrototypeOf trap"); } });
    case 4: {
      let reads = 0;
      return new Proxy(target, { get: (t, k, rcv) => (typeof k === "string" && /^\d+$/.test(k) ? `read ${reads++}` : Reflect.get(t, k, rcv)) });
    }
    default:
      return new Proxy(target, { get: (t, k, rcv) => (k === "length" ? Math.max(0, t.length - 1) : Reflect.get(t, k, rcv)) });
  }
}

const GETTER_ACTIONS = ["deletes a later key", "deletes and re-adds a later key", "retypes a later key", "adds a key",
  "hides a later key (non-enumerable)", "throws"] as const;

/** A record whose getter changes members after it: JSON.stringify took the key list first. */
function mutatingGetter(r: Rng, depth: number): unknown {
  const o = record(r, depth, pick(r, WIDE_FAMILIES));
  const keys = Object.keys(o);
  const at = below(r, keys.length - 1);
  const later = keys[at + 1 + below(r, keys.length - at - 1)]!;
  const action = pick(r, GETTER_ACTIONS);
  const replacement = member(r, depth + 1);
  const own = member(r, depth + 1);
  const get = () => {
    switch (action) {
      case "deletes a later key":
        delete (o as Record<string, unknown>)[later];
        break;
      case "deletes and re-adds a later key":
        delete (o as Record<string, unknown>)[later];
        put(o, later, replacement);
        break;
      case "retypes a later key":
        put(o, later, replacement);
        break;
      case "adds a key":
        put(o, "added", replacement);
        break;
      case "hides a later key (non-enumerable)":
        Object.defineProperty(o, later, { enumerable: false });
        break;
      case "throws":
        throw new HostileError("getter");
    }
    return own;
  };
  return Object.defineProperty(o, keys[at]!, { get, enumerable: true, configurable: true });
}

function otherRealm(r: Rng, depth: number): unknown {
  const entries = () => Object.entries(record(r, depth));
  switch (below(r, 9)) {
    case 0:
      return realm.object(entries());
    case 1:
      return realm.nullObject(entries());
    case 2:
      return realm.array(times(below(r, 5), () => member(r, depth + 1)));
    case 3:
      return realm.bytes(times(below(r, 5), () => below(r, 256)));
    case 4:
      return realm.floats(times(below(r, 4), () => number(r)));
    case 5:
      return realm.date(below(r, 4e12));
    case 6:
      return realm.map();
    case 7:
      return realm.boxed(pick<() => unknown>(r, [() => number(r), () => string(r), () => chance(r, 0.5)])());
    default:
      return realm.withToJSON(member(r, depth + 1));
  }
}

const HOSTILE: readonly (readonly [string, Maker])[] = [
  ["function with toJSON", (r, d) => {
    const out = member(r, d);
    return Object.assign(() => 0, { toJSON: () => out });
  }],
  ["function whose toJSON returns its key", () => Object.assign(function named() {}, { toJSON: (key: string) => `key:${key}` })],
  ["class with a static toJSON", (r, d) => {
    const out = member(r, d);
    return class { static toJSON() { return out; } };
  }],
  ["toJSON returning an odd value", (r, d) => {
    const out = pick(r, TO_JSON_RESULTS)(r, d);
    return { ignored: 1, toJSON: () => out };
  }],
  ["class instance", (r) => new Point(number(r), string(r))],
  ["class instance with a toJSON method", (r) => new Temperature(number(r))],
  ["Date", (r) => new Date(chance(r, 0.1) ? NaN : below(r, 4e12))],
  ["Map, Set and other exotic objects", (r) => pick(r, EXOTICS)()],
  ["typed array", typedArray],
  ["boxed primitive", boxed],
  ["boxed primitive with another prototype", reprototypedBoxed],
  ["null-prototype object", (r, d) => Object.assign(Object.create(null), record(r, d))],
  ["array with an odd prototype, holes or getters", oddArray],
  ["Proxy of an object", proxyOfObject],
  ["Proxy of an array", proxyOfArray],
  ["getter that mutates later keys", mutatingGetter],
  ["other-realm value", otherRealm],
];

function hostile(r: Rng, depth: number): { label: string; value: unknown } {
  const [label, make] = pick(r, HOSTILE);
  return { label, value: make(r, depth) };
}

// ---- sessions ----

/** Where a session's values sit: shapes are cached per nesting depth. */
const WRAPS: readonly (readonly [string, (v: unknown) => unknown])[] = [
  ["", (v) => v],
  [" (in an array)", (v) => [v]],
  [" (in a record)", (v) => ({ outer: v })],
  [" (two levels down)", (v) => [[1, v]]],
];

/** A top-level string goes as text, not JSON: wrap it. */
const json = (v: unknown): unknown => (typeof v === "string" ? [v] : v);

function* sameShape(r: Rng): Generator<Step, void> {
  const keys = pick(r, FAMILIES);
  const [where, wrap] = pick(r, WRAPS);
  for (let n = 5 + below(r, 40); n > 0; n--) {
    const value = chance(r, 0.1) ? times(1 + below(r, 8), () => record(r, 1, keys)) : record(r, 0, keys);
    yield { value: wrap(value), label: `records of one shape${where}` };
  }
}

const CHURN = ["retype a member", "delete a key", "re-add a deleted key", "add a key", "define __proto__ as an own key",
  "hide a key (non-enumerable)", "reorder the keys", "nothing"] as const;

/** One record mutated between sends: the engine's cached shape for it must follow. */
function* churn(r: Rng): Generator<Step, void> {
  const [where, wrap] = pick(r, WRAPS);
  let o = record(r, 0);
  const deleted: string[] = [];
  for (let n = 5 + below(r, 30); n > 0; n--) {
    // Every draw is made whatever the operation, so both twins draw alike.
    const op = pick(r, CHURN);
    const at = r();
    const value = member(r, 1);
    const newKey = chance(r, 0.5) ? pick(r, COMMON_KEYS) : pick(r, ODD_KEYS);
    const keys = Object.keys(o);
    const key = keys[Math.floor(at * keys.length)];
    switch (op) {
      case "retype a member":
        if (key !== undefined) put(o, key, value);
        break;
      case "delete a key":
        if (key !== undefined) {
          delete o[key];
          deleted.push(key);
        }
        break;
      case "re-add a deleted key":
        put(o, deleted.pop() ?? newKey, value);
        break;
      case "add a key":
        put(o, newKey, value);
        break;
      case "define __proto__ as an own key":
        put(o, "__proto__", value);
        break;
      case "hide a key (non-enumerable)":
        if (key !== undefined) Object.defineProperty(o, key, { enumerable: false });
        break;
      case "reorder the keys": {
        const entries = Object.entries(o);
        const k = Math.floor(at * entries.length);
        o = Object.fromEntries([...entries.slice(k), ...entries.slice(0, k)]);
        break;
      }
      case "nothing":
        break;
    }
    yield { value: wrap(o), label: `one record mutated between sends: ${op}${where}` };
  }
}

const POLLUTION_VALUES: readonly unknown[] = [true, 1, "leak", null, { nested: true }, [1]];
/** Keys Object.prototype has of its own ("constructor", "__proto__", ...) are not polluted. */
const POLLUTABLE = [...COMMON_KEYS, ...ODD_KEYS].filter((k) => !(k in Object.prototype));

const POLLUTED_SENDS: readonly (readonly [string, (r: Rng, keys: readonly string[], key: string) => unknown])[] = [
  ["{}", () => ({})],
  ["the same keys", (r, keys) => record(r, 0, keys)],
  ["the same keys but the polluted one", (r, keys, key) => record(r, 0, keys.filter((k) => k !== key))],
  ["the same keys but the last", (r, keys) => record(r, 0, keys.slice(0, -1))],
  ["an array with holes", () => [, 1]], // eslint-disable-line no-sparse-arrays
  ["a null-prototype object", (r, keys) => Object.assign(Object.create(null), record(r, 0, keys))],
  ["a class instance", (r) => new Point(number(r), "p")],
  ["records of the same keys, nested", (r, keys) => ({ list: [record(r, 1, keys), {}] })],
];

/** Object.prototype gains an enumerable (or not) key for one send, often a key of the shape just sent. */
function* pollution(r: Rng): Generator<Step, void> {
  const keys = pick(r, FAMILIES);
  const [where, wrap] = pick(r, WRAPS);
  const own = keys.filter((k) => POLLUTABLE.includes(k));
  const key = chance(r, 0.7) && own.length > 0 ? pick(r, own) : pick(r, POLLUTABLE);
  const pollute = { key, value: pick(r, POLLUTION_VALUES), enumerable: chance(r, 0.85) };
  yield { value: wrap(record(r, 0, keys)), label: `a record before Object.prototype is polluted${where}` };
  const [what, make] = pick(r, POLLUTED_SENDS);
  const on = `Object.prototype gains ${pollute.enumerable ? "an enumerable" : "a non-enumerable"} key ${keys.includes(key) ? "of the last shape" : "of no shape"}`;
  yield { value: wrap(make(r, keys, key)), label: `${on}, send ${what}${where}`, pollute };
  yield { value: wrap(record(r, 0, keys)), label: `a record after the pollution is removed${where}` };
}

function* hostiles(r: Rng): Generator<Step, void> {
  for (let n = 2 + below(r, 4); n > 0; n--) {
    const { label, value } = hostile(r, 0);
    const [where, wrap] = pick(r, WRAPS);
    yield { value: json(wrap(value)), label: `${label}${where || " (top level)"}` };
  }
}

function* mixed(r: Rng): Generator<Step, void> {
  for (let n = 5 + below(r, 10); n > 0; n--) yield { value: json(chance(r, 0.5) ? record(r, 0) : member(r, 0)), label: "mixed tree" };
}

function* scalars(r: Rng): Generator<Step, void> {
  for (let n = 5 + below(r, 10); n > 0; n--) {
    yield chance(r, 0.5)
      ? { value: times(1 + below(r, 8), () => number(r)), label: "numbers" }
      : { value: { s: string(r), t: [string(r)] }, label: "strings" };
  }
}

/** Nesting from `levels` containers of every kind; JSON.stringify's own depth decides whether it is refused. */
function nest(r: Rng, levels: number): unknown {
  let v = member(r, 6);
  for (let i = 1; i < levels; i++) {
    const inner = v;
    v = pick<() => unknown>(r, [
      () => [inner],
      () => ({ k: inner }),
      () => ({ a: 1, b: inner }),
      () => Object.assign(Object.create(null), { n: inner }),
      () => ({ toJSON: () => [inner] }),
    ])();
  }
  return v;
}

function* deep(r: Rng): Generator<Step, void> {
  for (let n = 3; n > 0; n--) {
    const levels = 1 + below(r, 250);
    yield { value: json(nest(r, levels)), label: `nesting of ${levels < 200 ? "1-199" : "200-250"} levels` };
  }
}

function* bigArrays(r: Rng): Generator<Step, void> {
  // 2n + 9 bytes a frame: n = 32763 is the largest that fits 64 KiB.
  const n = pick(r, [1000, 8000, 20000, 30000, 32763, 32764, 40000]);
  yield { value: new Array(n).fill(below(r, 10)), label: `new Array(${n}).fill(digit)` };
  yield { value: times(below(r, 20000), () => below(r, 100)), label: "array of up to 20,000 small integers" };
  yield { value: { rows: times(500, (i) => ({ id: i, v: below(r, 100) })) }, label: "500 records of one shape" };
}

const LINE_ENDS = ["\n", "\r\n", "\r", ""];

/** A top-level Uint8Array (from any realm) goes as UTF-8 text (README); one inside a value is JSON. */
function* bytes(r: Rng): Generator<Step, void> {
  const raw = new TextEncoder().encode(`x${string(r)}${pick(r, LINE_ENDS)}${string(r)}`);
  yield { value: raw, label: "top-level Uint8Array (text)" };
  yield { value: Buffer.from(raw), label: "top-level Buffer (text)" };
  yield { value: realm.bytes([...raw]), label: "top-level Uint8Array of another realm (text)" };
  yield { value: { bytes: raw.subarray(0, 4), other: realm.bytes([1, 2]) }, label: "Uint8Arrays inside a record (JSON)" };
}

/** Values JSON.stringify throws on or returns undefined for; a send must reject them and the stream go on. */
const REFUSED: readonly (readonly [string, Maker])[] = [
  ["cycle through records", (r) => {
    const root = record(r, 0);
    let at: Record<string, unknown> = root;
    for (let n = below(r, 4); n > 0; n--) at = (at.next = { ...record(r, 1) }) as Record<string, unknown>;
    at.back = root;
    return root;
  }],
  ["cycle through arrays", () => {
    const a: unknown[] = [1, [2]];
    (a[1] as unknown[]).push(a);
    return { a };
  }],
  ["cycle at depth 3", () => {
    const root = { a: { b: {} as Record<string, unknown> } };
    root.a.b.c = root.a;
    return root;
  }],
  ["cycle through a toJSON result", () => {
    const root: Record<string, unknown> = { x: 1 };
    root.a = { toJSON: () => root };
    return root;
  }],
  ["cycle through a getter", () => {
    const root = {};
    return Object.defineProperty(root, "self", { get: () => [root], enumerable: true });
  }],
  ["BigInt member", (r) => ({ ...record(r, 0), big: BigInt(below(r, 1000)) })],
  ["boxed BigInt", () => [Object(1n)]],
  ["BigInt64Array", () => ({ xs: new BigInt64Array(2) })],
  ["top-level undefined", () => undefined],
  ["top-level function", () => () => 1],
  ["top-level symbol", () => Symbol("top")],
  ["top-level toJSON returning undefined", () => ({ toJSON: () => undefined })],
  ["top-level class without toJSON", () => class {}],
  ["toJSON that throws", () => ({ a: 1, b: { toJSON: () => { throw new HostileError("toJSON"); } } })],
  ["boxed primitive that cannot become a primitive", () => [Object.setPrototypeOf(new Number(1), null)]],
  ["nesting of 257-300 levels", (r) => nest(r, 257 + below(r, 44))],
  ["a frame over maxEventBytes", () => ({ s: "x".repeat(70_000) })],
];

function* refused(r: Rng): Generator<Step, void> {
  const [label, make] = pick(r, REFUSED);
  yield { value: make(r, 0), label };
  yield { value: record(r, 0), label: "a record after a refused value" };
}

export const SESSIONS: readonly Session[] = [
  { name: "sameShape", weight: 30, make: sameShape },
  { name: "churn", weight: 15, make: churn },
  { name: "pollution", weight: 12, make: pollution },
  { name: "hostiles", weight: 15, make: hostiles },
  { name: "mixed", weight: 12, make: mixed },
  { name: "scalars", weight: 4, make: scalars },
  { name: "refused", weight: 6, make: refused },
  { name: "deep", weight: 1.5, make: deep },
  { name: "bytes", weight: 3, make: bytes },
  { name: "bigArrays", weight: 0.05, make: bigArrays },
];

const TOTAL_WEIGHT = SESSIONS.reduce((sum, s) => sum + s.weight, 0);

export function pickSession(r: Rng): Session {
  let x = r() * TOTAL_WEIGHT;
  for (const s of SESSIONS) if ((x -= s.weight) < 0) return s;
  return SESSIONS[0]!;
}

// ---- what a send must do ----

/** Runs f with Object.prototype[key] defined as asked, and removes it however f ends. */
export function withPollution<T>(p: Pollution | undefined, f: () => T): T {
  if (p === undefined) return f();
  Object.defineProperty(Object.prototype, p.key, { value: p.value, enumerable: p.enumerable, writable: true, configurable: true });
  try {
    return f();
  } finally {
    delete (Object.prototype as Record<string, unknown>)[p.key];
  }
}

export type Expected =
  | { readonly data: string }
  /** `error`: the error's kind, as errorKind() names it. */
  | { readonly refused: string };

/**
 * What `sse.send(v)` must do, from JSON.stringify on v's twin: send its text (a Uint8Array:
 * its UTF-8 text, line ends as a client reads them), or reject as JSON.stringify throws —
 * JsonValueError for cycles and BigInt, and for JSON.stringify returning undefined, nesting
 * over 256 levels, FrameTooLargeError for a frame over `maxEventBytes`.
 */
export function expectationOf(v: unknown, maxEventBytes: number): Expected {
  if (types.isUint8Array(v)) return { data: new TextDecoder("utf-8", { ignoreBOM: true }).decode(v).replace(/\r\n?/g, "\n") };
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (error) {
    return { refused: error instanceof TypeError && /circular|BigInt/.test(error.message) ? "JsonValueError" : errorKind(error) };
  }
  if (text === undefined || depthOf(text) > 256) return { refused: "JsonValueError" };
  if (8 + Buffer.byteLength(text) > maxEventBytes) return { refused: "FrameTooLargeError" };
  return { data: text };
}

/**
 * An error's kind for comparing rejections: JsonValueError, FrameTooLargeError, TypeError (any
 * other), HostileError with its message, else its constructor's name.
 */
export function errorKind(error: unknown): string {
  if (error instanceof JsonValueError) return "JsonValueError";
  if (error instanceof FrameTooLargeError) return "FrameTooLargeError";
  if (error instanceof HostileError) return `HostileError: ${error.message}`;
  if (error instanceof TypeError) return "TypeError";
  return (error as object | null)?.constructor?.name ?? String(error);
}

/** Whether a rejection of kind `got` is what `want` asks: any TypeError where a TypeError other than JsonValueError is due. */
export function errorMatches(want: string, got: string): boolean {
  return want === got || (want === "TypeError" && got === "JsonValueError");
}

/** The deepest nesting of arrays and objects in JSON text. */
function depthOf(text: string): number {
  if (text.length < 2 * 256) return 0;
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** A short, inert description (no getter, toJSON or trap runs). */
export function describeValue(v: unknown): string {
  const text = inspect(v, { depth: 4, maxArrayLength: 6, maxStringLength: 60, breakLength: Infinity, compact: true, showProxy: true });
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
