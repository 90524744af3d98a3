// What a value is, asked without running a line of its code: JSON.stringify tests internal
// slots ([[NumberData]], [[TypedArrayName]], …), which no Proxy trap, getter or prototype
// can fake or observe. `instanceof` and Object.getPrototypeOf walk prototypes, so a Proxy
// sees them (its getPrototypeOf trap runs, and may throw) and a re-prototyped box fools them.
type Types = {
  isBoxedPrimitive(v: unknown): boolean;
  isNumberObject(v: unknown): boolean;
  isStringObject(v: unknown): boolean;
  isBooleanObject(v: unknown): boolean;
  isBigIntObject(v: unknown): boolean;
};

/**
 * Node, Bun and Deno read slots in one native call (node:util types). Taken through
 * process.getBuiltinModule, so nothing here imports a `node:` module (the web entry loads
 * this file too); undefined where there is none (browsers, workerd without nodejs_compat).
 */
const types = ((globalThis as { process?: { getBuiltinModule?: (id: string) => { types?: Types } | undefined } })
  .process?.getBuiltinModule?.("node:util")?.types);

const booleanValue = Boolean.prototype.valueOf;
const bigintValue = BigInt.prototype.valueOf;

/** A brand check anywhere: these methods read their slot and throw for anything without it. */
function branded(valueOf: (this: unknown) => unknown): (v: object) => boolean {
  return (v) => {
    try {
      valueOf.call(v);
      return true;
    } catch {
      return false;
    }
  };
}

// One test per slot, chosen once: node:util's where there is one, else a brand check.
const isNumberObject = types?.isNumberObject ?? branded(Number.prototype.valueOf);
const isStringObject = types?.isStringObject ?? branded(String.prototype.valueOf);
const isBooleanObject = types?.isBooleanObject ?? branded(booleanValue);
const isBigIntObject = types?.isBigIntObject ?? branded(bigintValue);

/**
 * Whether v may carry [[NumberData]], [[StringData]], [[BooleanData]] or [[BigIntData]]
 * (without node:util: by its prototype, then by a throwing brand check, slow but rare).
 * Without node:util a Proxy's getPrototypeOf trap runs here (a throw counts as "no") and a
 * box given another prototype of this realm, or none, is missed (README, JSON).
 */
export const mayBeBoxed: (v: object) => boolean = types !== undefined ? types.isBoxedPrimitive : (v) => {
  try {
    if (v instanceof Object) return v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt;
    return Object.getPrototypeOf(v) !== null; // another realm's object: its brand decides
  } catch {
    return false;
  }
};

/**
 * SerializeJSONProperty step 4, for what mayBeBoxed let through: the primitive inside a boxed
 * Number, String, Boolean or BigInt (ToNumber and ToString run its valueOf/toString, as
 * JSON.stringify does); `v` itself when it has none of those slots (a boxed Symbol is an
 * object to JSON).
 */
export function unboxed(v: object): unknown {
  if (isNumberObject(v)) return +(v as unknown as number); // ToNumber: a BigInt from valueOf throws, as in JSON.stringify
  if (isStringObject(v)) return String(v);
  if (isBooleanObject(v)) return booleanValue.call(v);
  if (isBigIntObject(v)) return bigintValue.call(v);
  return v;
}

/** %TypedArray%.prototype[@@toStringTag]'s getter: [[TypedArrayName]], or undefined for anything else. */
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

/** Whether v is a Uint8Array (a Buffer too) of any realm; a Proxy of one is not. */
export function isUint8Array(v: unknown): v is Uint8Array {
  return typeof v === "object" && v !== null && ArrayBuffer.isView(v) && typedArrayName.call(v) === "Uint8Array";
}
