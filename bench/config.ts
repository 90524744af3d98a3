// How much work each case does: the full run (npm run bench) and --quick (npm run bench:quick).

export interface Config {
  mode: "full" | "quick";
  /** Independent runs; every reported number is a median over them. */
  runs: number;
  /** W1: events on one connection. */
  w1Events: number;
  /** W1 streams per run; the run's W1 is the stream with the median server CPU per event (one noisy stream moves no ratio). */
  w1Streams: number;
  /**
   * W1's streams and W2's broadcasts repeat (their counts and times adding up) until each
   * measurement spans this many seconds: a fast peer's 0.1 s stream would otherwise fall
   * wholly inside a busy spell of the shared machine that a slow peer's 1 s stream averages over.
   */
  minSeconds: number;
  /** Events the client checks with eventsource-parser, once per peer per run. */
  verifyEvents: number;
  /**
   * Streams of this many events run before W1, until they span warmSeconds, so every server
   * reaches optimised code first: V8 optimises by calls and loop iterations, and a fast
   * server's per-write code (Node's streams) is still being optimised seconds into its run.
   */
  warmEvents: number;
  warmSeconds: number;
  /** W2: subscribers and broadcast events. */
  w2Subscribers: number;
  w2Events: number;
  /**
   * W2 events for peers too slow to broadcast w2Events within the time budget. Per-delivery
   * numbers stay comparable; the report says which peer ran fewer.
   */
  w2EventsSlow: Record<string, number>;
  /** W2: events broadcast per turn of the event loop. */
  burst: number;
  /** W3: idle connections. */
  w3Connections: number;
  /** After the runs, profile wasm-sse's case behind each missed target (bench/profile/). */
  profileMisses: boolean;
  /** W4: events per timed pass, and passes (short passes, the variants interleaved, so drift on a shared machine hits all alike). */
  w4Events: number;
  w4Rounds: number;
  /** W6: subscribers over all server processes of a variant (half on each of the two for the shared and naive ones). */
  w6Subscribers: number;
  /** W6's paced pass: events/s, for this many seconds, after an untimed paced warm-up of w6WarmSeconds. */
  w6Rate: number;
  w6Seconds: number;
  w6WarmSeconds: number;
  /** W6's pass as fast as it goes: events, `burst` per turn of the publisher's event loop (repeated until it spans minSeconds). */
  w6BurstEvents: number;
  /** W7: subscribers that the server cuts off at once and that all reconnect within a second. */
  w7Clients: number;
}

export const FULL: Config = {
  mode: "full",
  runs: 3,
  w1Events: 200_000,
  w1Streams: 3,
  minSeconds: 2,
  verifyEvents: 5_000,
  warmEvents: 200_000,
  warmSeconds: 2,
  w2Subscribers: 1_000,
  w2Events: 1_000,
  // Hono spends ~65 µs per delivery here: 1,000 events would take ~70 s per run.
  w2EventsSlow: { hono: 250 },
  burst: 100,
  w3Connections: 10_000,
  profileMisses: true,
  w4Events: 40_000,
  w4Rounds: 25,
  w6Subscribers: 1_000,
  w6Rate: 1_000,
  w6Seconds: 5,
  w6WarmSeconds: 2,
  w6BurstEvents: 2_000,
  w7Clients: 10_000,
};

export const QUICK: Config = {
  mode: "quick",
  runs: 1,
  w1Events: 20_000,
  w1Streams: 1,
  minSeconds: 0,
  verifyEvents: 2_000,
  warmEvents: 2_000,
  warmSeconds: 0,
  w2Subscribers: 100,
  w2Events: 200,
  w2EventsSlow: {},
  burst: 100,
  w3Connections: 500,
  profileMisses: false,
  w4Events: 20_000,
  w4Rounds: 3,
  w6Subscribers: 1_000,
  w6Rate: 1_000,
  w6Seconds: 2,
  w6WarmSeconds: 0.5,
  w6BurstEvents: 1_000,
  w7Clients: 1_000,
};
