/**
 * Redis did not take or give what a shared channel asked: unreachable, refused the password,
 * or failed the command. `cause` is the Redis client's error. A send that rejects with it may
 * still have been appended if the connection failed after Redis received the command.
 */
export class BrokerError extends Error {
  override name = "BrokerError";
}
