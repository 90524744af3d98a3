// The clock every W6 process stamps and reads events with: CLOCK_MONOTONIC (libuv's hrtime),
// one clock for the whole machine, so a time taken in one process compares with a time taken
// in another. Whole microseconds: an integer the client parses cheaply.
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}

/** Event i as every W6 publisher sends it: its index first, then the time it was sent. */
export function w6Event(i: number): { i: number; t: number; name: string; value: number } {
  return { i, t: nowUs(), name: "sensor-7", value: 20 + (i % 50) / 2 };
}
