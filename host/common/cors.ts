// CORS for event streams: which other origins' pages may read a stream. EventSource sends a
// simple GET (no preflight, even with Last-Event-ID), so a stream needs only
// Access-Control-Allow-Origin, and Access-Control-Allow-Credentials for `withCredentials`.
//
// Rules
// - `*` only for `true` without credentials: browsers refuse `*` on a credentialed request,
//   so with credentials the request's own Origin is echoed, and only for the origins listed
//   (or that a function allows). `true` with credentials is refused at setup: letting every
//   site read a stream with its visitor's cookies must be spelled out, `origin: () => true`.
// - When the answer depends on Origin, every response (refusals included) says `Vary: Origin`,
//   so a cache never serves one origin's answer to another.
// - Every response to an allowed origin carries the headers, refusals too: a cross-origin
//   client then sees a 204 (stop reconnecting) or a 503 as such, not as a CORS failure.
// - A disallowed origin gets no CORS header and is otherwise served as before: the browser
//   withholds the stream from the page (EventSource fires error and gives up). CORS protects
//   the reader, not the server: any client that is not a browser can send any Origin.
// - A preflight (OPTIONS with Access-Control-Request-Method GET or HEAD, from an allowed
//   origin) gets 204 allowing GET and HEAD and the headers it asks for: a fetch-based client
//   sets headers of its own (Last-Event-ID, Authorization). Any other OPTIONS gets 405.
// - An origin function that throws, or answers anything but a boolean (an async function's
//   Promise would be truthy), allows nothing; its error goes to `failed` (the host's onError).
// - The options are the caller's own (own.ts): an inherited `credentials` is never read.
import { own } from "./own.js";

/** Which origins may read: `true` any; an origin ("https://app.example") or a list; or a check of the request's Origin. */
export type CorsOrigin = true | string | readonly string[] | ((origin: string) => boolean);

export interface CorsOptions {
  origin: CorsOrigin;
  /** Allows cookies and HTTP authentication: `new EventSource(url, { withCredentials: true })` (default false). */
  credentials?: boolean;
}

/** `false` (the default) sends no CORS headers. */
export type CorsOption = false | CorsOrigin | CorsOptions;

type HeaderMap = Readonly<Record<string, string>>;

/** Told what an origin function threw. */
export type CorsFailure = (error: unknown) => void;

export interface Cors {
  /** The CORS headers of every response to a request with this Origin. */
  headers(origin: string | undefined, failed: CorsFailure): HeaderMap;
  /** The headers of the 204 that answers a preflight; undefined if the request is not one this policy allows. */
  preflight(origin: string | undefined, method: string | undefined, requestHeaders: string | undefined, failed: CorsFailure): HeaderMap | undefined;
}

const ANY: HeaderMap = { "Access-Control-Allow-Origin": "*" };
const VARY: HeaderMap = { Vary: "Origin" };

/** The policy `option` says; undefined for none. Throws a TypeError (naming `what`) for an option that is not one. */
export function resolveCors(option: CorsOption | undefined, what: string): Cors | undefined {
  if (option === undefined || option === false) return undefined;
  const { origin, credentials = false }: CorsOptions = isOptions(option) ? own(option) : { origin: option };
  if (typeof credentials !== "boolean") throw new TypeError(`${what}.credentials must be a boolean, got ${String(credentials)}`);
  if (origin === true && credentials) {
    throw new TypeError(`${what}: origin true with credentials would let every site read streams with its visitors' cookies; list the origins, or pass origin: () => true to mean it`);
  }
  const allows = allowed(origin, what);
  const headers = (o: string | undefined, failed: CorsFailure): HeaderMap => {
    if (allows === undefined) return ANY;
    if (o === undefined || !allows(o, failed)) return VARY;
    return credentials ? { "Access-Control-Allow-Origin": o, "Access-Control-Allow-Credentials": "true", Vary: "Origin" } : { "Access-Control-Allow-Origin": o, Vary: "Origin" };
  };
  return {
    headers,
    preflight: (o, method, requestHeaders, failed) => {
      if (method !== "GET" && method !== "HEAD") return undefined;
      const allow = headers(o, failed);
      if (!("Access-Control-Allow-Origin" in allow)) return undefined;
      const vary = allows === undefined ? "Access-Control-Request-Headers" : "Origin, Access-Control-Request-Headers";
      const preflight: Record<string, string> = { ...allow, "Access-Control-Allow-Methods": "GET, HEAD", Vary: vary };
      if (requestHeaders !== undefined) preflight["Access-Control-Allow-Headers"] = requestHeaders;
      return preflight;
    },
  };
}

function isOptions(option: CorsOrigin | CorsOptions): option is CorsOptions {
  return typeof option === "object" && option !== null && !Array.isArray(option);
}

/** The check of a request's Origin; undefined for any origin. */
function allowed(origin: unknown, what: string): ((origin: string, failed: CorsFailure) => boolean) | undefined {
  if (origin === true) return undefined;
  if (typeof origin === "function") {
    return (o, failed) => {
      try {
        const yes: unknown = origin(o);
        if (typeof yes === "boolean") return yes;
        throw new TypeError(`${what}: the origin function must return a boolean, got ${String(yes)}`);
      } catch (error) {
        failed(error);
        return false;
      }
    };
  }
  const list = typeof origin === "string" ? [origin] : origin;
  if (!Array.isArray(list)) throw new TypeError(`${what} must be true, an origin, a list of origins, a function or { origin, credentials }, got ${String(origin)}`);
  const origins = new Set(list.map((o: unknown) => originOf(o, what)));
  return (o) => origins.has(o);
}

/** `text` as browsers send it in Origin (lower case, no default port); a TypeError unless it is an origin. */
function originOf(text: unknown, what: string): string {
  let url: URL | undefined;
  try {
    url = new URL(String(text));
  } catch {
    // reported below
  }
  // An origin is scheme, host and port: a path, query or credentials here is a mistake, "null" and "*" are not origins.
  if (typeof text !== "string" || url === undefined || url.origin === "null" || url.href !== `${url.origin}/`) {
    throw new TypeError(`${what}: ${JSON.stringify(text)} is not an origin (scheme://host[:port]${text === "*" ? "; cors: true allows any origin" : ""})`);
  }
  return url.origin;
}
