// The client half of the disconnect storm: cycles of connect, then leave in one of several
// ways, some while the server's handler is sending (after a random number of body bytes,
// so often in the middle of an event) and some while it sleeps; `concurrency` at a time.
import { connect } from "node:net";
import { rng } from "../support/wasm.js";
import { ChunkedResponse } from "./chunked.js";
import { localAddress } from "./fleet-protocol.js";

export const BEHAVIOURS = [
  "abort-request", // goes before its request is complete: the server never runs a handler
  "after-head", // FIN as soon as the response head arrives, while the handler sends
  "mid-event-fin", // FIN after a random number of body bytes, while the handler sends
  "mid-event-rst", // the same with a TCP reset
  "sleeping-fin", // FIN after the first event, while the handler sleeps
  "sleeping-rst", // the same with a TCP reset
  "half-close", // shuts down its sending side after the first event and waits for the server to end
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export interface StormPlan {
  cycles: number;
  concurrency: number;
  seed: number;
  /** Each cycle leaves by then even if the server never closes (counted as stuck). */
  cycleTimeoutMs: number;
}

export interface StormResult {
  cycles: number;
  byBehaviour: Record<Behaviour, number>;
  /** Responses that were not 200 (every cycle that reads a head expects a stream). */
  non200: number;
  /** Cycles whose socket did not close before cycleTimeoutMs. */
  stuck: number;
  bodyBytes: number;
  ms: number;
}

const PATH: Record<Behaviour, string> = {
  "abort-request": "/send",
  "after-head": "/send",
  "mid-event-fin": "/send",
  "mid-event-rst": "/send",
  "sleeping-fin": "/sleep",
  "sleeping-rst": "/sleep",
  "half-close": "/sleep",
};

/** The /sleep handler's first event is exactly this many body bytes. */
export const HELLO = "data: hello\n\n";

export async function storm(port: number, plan: StormPlan): Promise<StormResult> {
  const next = rng(plan.seed);
  const result: StormResult = {
    cycles: 0, byBehaviour: Object.fromEntries(BEHAVIOURS.map((b) => [b, 0])) as Record<Behaviour, number>,
    non200: 0, stuck: 0, bodyBytes: 0, ms: 0,
  };
  const started = performance.now();
  let issued = 0;
  const worker = async () => {
    while (issued < plan.cycles) {
      const i = issued++;
      const behaviour = BEHAVIOURS[Math.floor(next() * BEHAVIOURS.length)]!;
      await cycle(port, i, behaviour, 1 + Math.floor(next() * 65536), plan.cycleTimeoutMs, result);
      result.byBehaviour[behaviour]++;
      result.cycles++;
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  result.ms = Math.round(performance.now() - started);
  return result;
}

function cycle(port: number, i: number, behaviour: Behaviour, leaveAfter: number, timeoutMs: number, result: StormResult): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: localAddress(i) });
    let body = 0;
    let left = false;
    const timer = setTimeout(() => {
      result.stuck++;
      socket.destroy();
    }, timeoutMs);
    const leave = () => {
      if (left) return;
      left = true;
      if (behaviour === "mid-event-rst" || behaviour === "sleeping-rst") socket.resetAndDestroy();
      else if (behaviour === "half-close") socket.end();
      else socket.destroy();
    };
    const response = new ChunkedResponse((bytes) => {
      body += bytes.length;
      result.bodyBytes += bytes.length;
    });
    socket.on("connect", () => {
      const request = `GET ${PATH[behaviour]} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`;
      if (behaviour === "abort-request") return void (socket.write(request.slice(0, 1 + (i % (request.length - 2)))), socket.destroy());
      socket.write(request);
    });
    socket.on("data", (data: Buffer) => {
      const hadHead = response.status !== 0;
      response.push(data);
      if (!hadHead && response.status !== 0 && response.status !== 200) result.non200++;
      if (response.status === 0) return;
      if (behaviour === "after-head") leave();
      else if (behaviour.startsWith("mid-event") && body >= leaveAfter) leave();
      else if (PATH[behaviour] === "/sleep" && body >= HELLO.length) leave();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
