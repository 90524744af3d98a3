// The engine and connection under an sse object: private to the host, reached here (through
// the handle's own accessor) to inspect or corrupt them.
import type { Engine } from "../../bindings/index.js";
import { streamOf, type Sse } from "../../host/common/sse.js";

export function slotOf(sse: Sse): { engine: Engine; conn: number } {
  const stream = streamOf(sse);
  if (stream === undefined) throw new TypeError("not an sse object from withSse or sseResponse");
  return { engine: stream.engine, conn: stream.conn };
}
