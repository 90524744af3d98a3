// Events larger than a connection's own outbound space in the core (8 KiB: the pool's engines
// carve that per connection and one wide region per engine for larger frames, which a stream
// copies out at once). Over real sockets on 127.0.0.1, with both hosts: every byte in order
// for sizes on both sides of the boundary, with readers fast and slow, with every stream of an
// engine sending large events at once (one wide region for all of them), and FrameTooLargeError
// past maxEventBytes as before.
import { serve as honoServe } from "@hono/node-server";
import { Hono } from "hono";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FrameTooLargeError, sseResponse, withSse, type Sse, type WebSse } from "../index.js";
import { readAll, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";
import { rng } from "./support/wasm.js";

/** A connection's own space in the core (host/common/engine-pool.ts). */
const CONN_OUT = 8 * 1024;
const FRAME_OVERHEAD = "id: 1234\ndata: \n\n".length;

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Payload sizes around the boundary, then random ones up to 60,000 bytes. */
function sizes(seed: number, count: number): number[] {
  const edge = [CONN_OUT - FRAME_OVERHEAD - 1, CONN_OUT - FRAME_OVERHEAD, CONN_OUT - FRAME_OVERHEAD + 1, 1, 60_000, 2, CONN_OUT];
  const random = rng(seed);
  const out = [...edge];
  while (out.length < count) out.push(random() < 0.5 ? 1 + Math.floor(random() * 200) : 1 + Math.floor(random() * 60_000));
  return out;
}

/** Event i: an id of four digits and text whose first characters say which event it is. */
function payload(stream: number, i: number, size: number): string {
  const head = `${stream}:${i}:`;
  return (head + "y".repeat(Math.max(0, size - head.length))).slice(0, Math.max(size, head.length));
}

const frame = (i: number, data: string) => `id: ${String(i).padStart(4, "0")}\ndata: ${data}\n\n`;

async function sendAll(sse: Pick<Sse, "send">, stream: number, plan: number[]): Promise<void> {
  for (let i = 0; i < plan.length; i++) await sse.send(payload(stream, i, plan[i]!), { id: String(i).padStart(4, "0") });
}

describe("frames larger than a connection's own space", () => {
  it("withSse: every byte in order, sizes across the boundary, to a reader that keeps pausing", async () => {
    const plan = sizes(7, 300);
    running = await serve(withSse(async (_req, sse) => sendAll(sse, 0, plan)));
    const client = await rawGet(running.port, "/");
    // Pauses of 1–20 ms between reads: Node's buffer fills, the stream waits, frames wait in the core.
    const random = rng(8);
    const pacing = setInterval(() => {
      client.socket.pause();
      setTimeout(() => client.socket.resume(), 1 + Math.floor(random() * 20));
    }, 25);
    try {
      await client.closed;
    } finally {
      clearInterval(pacing);
    }
    expect(client.chunks().join("")).toBe(plan.map((n, i) => frame(i, payload(0, i, n))).join(""));
  });

  it("withSse: 64 streams of one engine sending large and small events at once each get their own bytes", async () => {
    const streams = 64;
    const plans = Array.from({ length: streams }, (_, s) => sizes(100 + s, 40));
    running = await serve(
      withSse(async (req: IncomingMessage, sse: Sse) => {
        const s = Number(new URL(req.url ?? "/", "http://x").searchParams.get("s"));
        await sendAll(sse, s, plans[s]!);
      }),
    );
    const results = await Promise.all(plans.map((_, s) => readAll(`http://127.0.0.1:${running!.port}/?s=${s}`)));
    for (let s = 0; s < streams; s++) {
      expect(results[s]!.stream.events().map((e) => [e.id, e.data])).toEqual(plans[s]!.map((n, i) => [String(i).padStart(4, "0"), payload(s, i, n)]));
    }
  });

  it("withSse: unawaited large sends to a reader that never reads are bounded by maxBufferedBytes", async () => {
    let framed = 0;
    let failure: unknown;
    const maxBufferedBytes = 512 * 1024;
    running = await serve(
      withSse(
        async (_req, sse) => {
          for (let i = 0; i < 10_000 && !sse.signal.aborted; i++) {
            sse.send("z".repeat(20_000)).then(() => framed++, (error: unknown) => (failure ??= error));
            if (i % 50 === 49) await new Promise((r) => setImmediate(r));
          }
        },
        { maxBufferedBytes, stallTimeoutMs: 0 },
      ),
    );
    const client = await rawGet(running.port, "/");
    await until(() => client.text().includes("\r\n\r\n"), 2000, "the response head");
    client.socket.pause();
    await until(() => failure !== undefined, 20_000, "the stream to be cut");
    expect((failure as Error).name).toBe("CancelledError");
    // What Node and the kernel took before the bound, plus the bound: never the 10,000 sends.
    expect(framed * 20_008).toBeLessThan(maxBufferedBytes + 16 * 1024 * 1024);
    expect(framed).toBeLessThan(10_000);
    client.socket.destroy();
  });

  it("withSse: a frame past maxEventBytes is FrameTooLargeError and the stream goes on", async () => {
    let refused: unknown;
    running = await serve(
      withSse(
        async (_req, sse) => {
          await sse.send("a".repeat(20_000));
          await sse.send("b".repeat(40_000)).catch((error: unknown) => (refused = error));
          await sse.send("c");
        },
        { maxEventBytes: 32 * 1024 },
      ),
    );
    const { stream } = await readAll(`http://127.0.0.1:${running.port}/`);
    expect(refused).toBeInstanceOf(FrameTooLargeError);
    expect(stream.events().map((e) => e.data)).toEqual(["a".repeat(20_000), "c"]);
  });

  it("sseResponse: 16 streams sending large and small events at once, every event in order", async () => {
    const plans = Array.from({ length: 16 }, (_, s) => sizes(300 + s, 60));
    const app = new Hono().get("/", (c) =>
      sseResponse(c.req.raw, async (sse: WebSse) => {
        const s = Number(c.req.query("s"));
        await sendAll(sse, s, plans[s]!);
      }),
    );
    const server = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const port = (server.address() as AddressInfo).port;
    try {
      const results = await Promise.all(plans.map((_, s) => readAll(`http://127.0.0.1:${port}/?s=${s}`)));
      for (let s = 0; s < plans.length; s++) {
        expect(results[s]!.stream.events().map((e) => e.data)).toEqual(plans[s]!.map((n, i) => payload(s, i, n)));
      }
    } finally {
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("what a stream holds for a client that stops reading", () => {
  it("stays within maxBufferedBytes and one batch when unawaited large sends are framed as room comes", async () => {
    const maxBufferedBytes = 2 * 1024 * 1024;
    let peak = 0;
    let failure: unknown;
    const listener = withSse(
      async (_req, sse) => {
        for (let i = 0; i < 10_000 && !sse.signal.aborted; i++) {
          sse.send("w".repeat(20_000)).catch((error: unknown) => (failure ??= error));
          if (i % 10 === 9) {
            await new Promise((r) => setImmediate(r));
            peak = Math.max(peak, listener.stats().bytesBuffered);
          }
        }
      },
      { maxBufferedBytes, stallTimeoutMs: 0 },
    );
    running = await serve(listener);
    const client = await rawGet(running.port, "/");
    await until(() => client.text().includes("\r\n\r\n"), 2000, "the response head");
    // Reads in sips, so room comes back a little at a time and the waiting sends are framed as it does.
    const sips = setInterval(() => {
      client.socket.resume();
      setTimeout(() => client.socket.pause(), 5);
    }, 50);
    try {
      await until(() => failure !== undefined, 30_000, "the stream to be cut");
    } finally {
      clearInterval(sips);
    }
    console.log(`peak held ${peak} bytes (bound ${maxBufferedBytes})`);
    // The bound, plus the stream's own frames copied out of the core: under one batch (64 KiB) before the last.
    expect(peak).toBeLessThanOrEqual(maxBufferedBytes + 2 * 64 * 1024);
    client.socket.destroy();
  });
});
