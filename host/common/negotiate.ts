// Which requests get a stream, and its response head. EventSource always sends `Accept:
// text/event-stream`, curl sends `*/*`, and a missing Accept means "anything" (RFC 9110
// §12.5.1); only a client that asked for something else, or a method other than GET/HEAD, is
// refused, before any core slot is used.

/**
 * The head of every event stream. `no-transform` keeps compressing proxies from buffering;
 * X-Accel-Buffering: no does the same for nginx.
 */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache, no-transform",
  "X-Accel-Buffering": "no",
};

export interface Refusal {
  status: 405 | 406;
  headers: Record<string, string>;
  message: string;
}

const ALLOW = "GET, HEAD";

export function refusal(method: string | undefined, accept: string | undefined): Refusal | undefined {
  if (method !== "GET" && method !== "HEAD") {
    return { status: 405, headers: { Allow: ALLOW }, message: `${method ?? "this method"} is not allowed on an event stream; use GET.\n` };
  }
  if (accept !== undefined && !acceptsEventStream(accept)) {
    return { status: 406, headers: {}, message: `this resource is a text/event-stream; the request accepts only: ${accept}\n` };
  }
  return undefined;
}

/** RFC 9110 §12.5.1: the most specific matching range decides, and q=0 means "not acceptable". */
export function acceptsEventStream(accept: string): boolean {
  let best = -1; // specificity of the best match: 0 */*, 1 text/*, 2 text/event-stream
  let quality = 0;
  for (const range of accept.split(",")) {
    const [type = "", ...params] = range.split(";").map((s) => s.trim().toLowerCase());
    const specificity = type === "text/event-stream" ? 2 : type === "text/*" ? 1 : type === "*/*" ? 0 : -1;
    if (specificity <= best) continue;
    best = specificity;
    quality = qualityOf(params);
  }
  return best >= 0 && quality > 0;
}

function qualityOf(params: string[]): number {
  for (const p of params) {
    const [name, value] = p.split("=").map((s) => s.trim());
    if (name === "q") {
      const q = Number(value);
      return Number.isFinite(q) ? q : 1;
    }
  }
  return 1;
}
