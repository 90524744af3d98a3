// Option checks: a bad configuration is a RangeError at setup, not a surprise under load.

/** A RangeError naming `what` unless value is a number (an integer, if asked) in [min, max]. */
export function checkRange(what: string, value: unknown, min: number, max: number, integer: boolean): void {
  if (typeof value !== "number" || !(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${what} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${String(value)}`);
  }
}
