// A send's options are read as JSON.stringify reads a value: own enumerable properties only. A
// key someone put on Object.prototype (prototype pollution), or on any prototype, is never read:
// it would change what goes on the wire (an event name, an id, a retry for every client) or make
// every send throw (an inherited `record` on a channel without history).
import type { SendOptions } from "./engine.js";

const isOwnEnumerable = Object.prototype.propertyIsEnumerable;

/** The option `key` if it is an own enumerable property of `options` (a getter runs once), else undefined. */
export function ownOption<K extends keyof SendOptions>(options: SendOptions, key: K): SendOptions[K] {
  return isOwnEnumerable.call(options, key) ? options[key] : undefined;
}

/**
 * The options as a plain object, each own enumerable property read once (other keys are kept
 * for a channel's filters), with the four options always its own: for code that reads them
 * more than once (a channel frames, records and filters with them). A string is the event name.
 */
export function sendOptions(options: SendOptions | string): SendOptions {
  if (typeof options === "string") return { event: options, id: undefined, retry: undefined, record: undefined };
  // The four are defined by the literal (never assigned: an accessor someone put on
  // Object.prototype does not run), then the spread sets the caller's own over them.
  return { event: undefined, id: undefined, retry: undefined, record: undefined, ...options };
}
