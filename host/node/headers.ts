// The response head of an event stream on Node: the common one, plus Connection. It is
// hop-by-hop: HTTP/2 forbids it (RFC 9113 §8.2.2), and a client that asked to close (or speaks
// HTTP/1.0) must not be told keep-alive, since Node then keeps the socket open after the
// stream ends.
import { STREAM_HEADERS } from "../common/negotiate.js";

export interface RequestVersion {
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export function streamHeaders(req: RequestVersion): Record<string, string> {
  const headers: Record<string, string> = { ...STREAM_HEADERS };
  if (wantsKeepAlive(req)) headers["Connection"] = "keep-alive";
  return headers;
}

function wantsKeepAlive(req: RequestVersion): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return false;
  const connection = req.headers["connection"];
  const tokens = (Array.isArray(connection) ? connection.join(",") : connection ?? "").toLowerCase().split(",");
  return !tokens.some((t) => t.trim() === "close");
}
