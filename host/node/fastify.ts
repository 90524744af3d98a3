// fastifySse(handler, options): withSse as a Fastify route handler. The handler gets Fastify's
// request (params, query, decorations); headers hooks set with reply.header() (CORS, tracing)
// go out with the stream, refusals and HEAD alike. Fastify itself is not imported.
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { own } from "../common/own.js";
import type { WithSseOptions } from "./options.js";
import { withSse, type AnyResponse, type SseHandler, type SseListener } from "./with-sse.js";

type RawRequest = IncomingMessage | Http2ServerRequest;

/** What fastifySse reads of a request; FastifyRequest fits. */
export interface FastifyRequestLike { readonly raw: RawRequest }

/** What fastifySse uses of a reply; FastifyReply fits. */
export interface FastifyReplyLike {
  readonly raw: AnyResponse;
  getHeaders(): Readonly<Record<string, number | string | string[] | undefined>>;
  hijack(): unknown;
}

export type FastifySseRoute<R> = ((request: R, reply: FastifyReplyLike) => void) & Pick<SseListener<R>, "openConnections" | "close">;

export function fastifySse<R extends FastifyRequestLike = FastifyRequestLike>(handler: SseHandler<R>, options: WithSseOptions<R> = {}): FastifySseRoute<R> {
  options = own(options); // read as withSse reads them: an inherited onError is not wrapped into an own one
  const requests = new WeakMap<RawRequest, R>(); // raw → Fastify's request, for the handler and onError
  const onError = options.onError;
  const listener = withSse<RawRequest>((raw, sse) => handler(requests.get(raw)!, sse), {
    ...options,
    onError: onError && ((error, raw) => onError(error, requests.get(raw)!)),
  });
  const route = (request: R, reply: FastifyReplyLike): void => {
    requests.set(request.raw, request);
    // Until it sends, Fastify keeps reply.header()'s headers to itself: hand them to the response.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
    reply.hijack(); // the response is withSse's from here: Fastify sends nothing, onSend hooks do not run
    listener(request.raw, reply.raw);
  };
  Object.defineProperty(route, "openConnections", { get: () => listener.openConnections });
  return Object.assign(route, { close: listener.close }) as FastifySseRoute<R>;
}
