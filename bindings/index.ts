export { Engine, HeldEvent } from "./engine.js";
export type { EngineOptions, SendOptions, ConnectionStats, Conn } from "./engine.js";
export {
  SseError, EngineMisuseError, CapacityError, OutOfMemoryError, InvalidFieldError,
  FrameTooLargeError, BufferFullError, JsonValueError, ReentrantSendError, Status,
} from "./errors.js";
export type { StatusName } from "./errors.js";
