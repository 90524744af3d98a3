// The core's status codes (assembly/abi.ts) and the typed errors they become.
// Two families, as in the core: the host misused the engine, or the content was refused.
import * as abi from "../assembly/abi.js";

/** Each ERR_ constant of assembly/abi.ts by its name without ERR_ (test/errors.test.ts checks none is missing). */
export const Status = {
  NOT_INIT: abi.ERR_NOT_INIT,
  BAD_ARG: abi.ERR_BAD_ARG,
  UNKNOWN_CONN: abi.ERR_UNKNOWN_CONN,
  CAPACITY: abi.ERR_CAPACITY,
  ALREADY_INIT: abi.ERR_ALREADY_INIT,
  NO_MEMORY: abi.ERR_NO_MEMORY,
  EVENT_NAME: abi.ERR_EVENT_NAME,
  ID: abi.ERR_ID,
  RETRY: abi.ERR_RETRY,
  TOO_LARGE: abi.ERR_TOO_LARGE,
  NO_SPACE: abi.ERR_NO_SPACE,
  BAD_TAPE: abi.ERR_BAD_TAPE,
  ID_TOO_LONG: abi.ERR_ID_TOO_LONG,
  ID_UNKNOWN: abi.ERR_ID_UNKNOWN,
} as const;

export type StatusName = keyof typeof Status;

/** Every error the engine raises; `code` is the core's status name, `status` its number. */
export class SseError extends Error {
  readonly code: StatusName;
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
    this.code = nameOf(status);
  }
}
/** The engine was used wrongly: unknown connection, bad argument, a call before init. */
export class EngineMisuseError extends SseError {}
/** No free connection slot. */
export class CapacityError extends SseError {}
/** The configuration does not fit the module's memory. */
export class OutOfMemoryError extends SseError {}
/** An event name, id or retry that would break the stream; nothing was written. */
export class InvalidFieldError extends SseError {}
/** The frame is larger than a connection's whole outbound space; nothing was written. */
export class FrameTooLargeError extends SseError {}
/** The frame fits only once pending bytes drain; nothing was written. */
export class BufferFullError extends SseError {}
/** A payload JSON cannot express (BigInt, a cycle, nesting too deep), as JSON.stringify's TypeError. */
export class JsonValueError extends TypeError {
  readonly code = "JSON_VALUE";
  override name = "JsonValueError";
}

/**
 * A send, comment or open made on an engine while it serialises another payload: from inside
 * that payload's toJSON, a getter or a Proxy trap. Refused before anything is staged, so the
 * payload being serialised and every other stream of the engine are unaffected.
 */
export class ReentrantSendError extends Error {
  readonly code = "REENTRANT";
  override name = "ReentrantSendError";
  constructor(op: string) {
    super(`${op} was called on an engine while it serialises another payload (from a toJSON, getter or Proxy trap); send it after that send returns`);
  }
}

const MESSAGES: Record<StatusName, string> = {
  NOT_INIT: "the engine is not initialised",
  BAD_ARG: "an argument is out of range",
  UNKNOWN_CONN: "no open connection has this handle (closed, or never opened)",
  CAPACITY: "every connection slot is in use",
  ALREADY_INIT: "the engine is already initialised",
  NO_MEMORY: "the configuration does not fit in the module's linear memory",
  EVENT_NAME: "an event name must not contain CR or LF",
  ID: "an event id must not contain CR, LF or NUL",
  RETRY: "retry must be a non-negative integer number of milliseconds",
  TOO_LARGE: "the event is larger than the connection's outbound space",
  NO_SPACE: "the connection's outbound space is full until pending bytes drain",
  BAD_TAPE: "the JSON value tape is malformed",
  ID_TOO_LONG: `an event id must be at most ${abi.ID_MAX} bytes of UTF-8`,
  ID_UNKNOWN: "the id is not in the history",
};

const CLASSES: Record<StatusName, new (status: number, message: string) => SseError> = {
  NOT_INIT: EngineMisuseError,
  BAD_ARG: EngineMisuseError,
  UNKNOWN_CONN: EngineMisuseError,
  CAPACITY: CapacityError,
  ALREADY_INIT: EngineMisuseError,
  NO_MEMORY: OutOfMemoryError,
  EVENT_NAME: InvalidFieldError,
  ID: InvalidFieldError,
  RETRY: InvalidFieldError,
  TOO_LARGE: FrameTooLargeError,
  NO_SPACE: BufferFullError,
  BAD_TAPE: EngineMisuseError,
  ID_TOO_LONG: InvalidFieldError,
  ID_UNKNOWN: InvalidFieldError,
};

function nameOf(status: number): StatusName {
  for (const name of Object.keys(Status) as StatusName[]) if (Status[name] === status) return name;
  throw new RangeError(`unknown status ${status}`);
}

/** The typed error for a negative status; `detail` adds what the caller knows. */
export function errorFor(status: number, detail?: string): SseError {
  const name = nameOf(status);
  const Class = CLASSES[name];
  const error = new Class(status, detail ? `${MESSAGES[name]} (${detail})` : MESSAGES[name]);
  error.name = Class.name;
  return error;
}
