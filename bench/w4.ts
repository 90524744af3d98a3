// W4, a process of its own: framing + JSON in process, no sockets. The engine (send, then
// drain to a Uint8Array) against the string path ('data: ' + JSON.stringify(v) + '\n\n',
// then bytes), after a check that both give the same bytes for every event. Each timed pass
// ends with a scavenge, timed with it: a variant pays for collecting what it allocated, not
// for what the variant before it left behind (run with node --expose-gc).
import { readFileSync } from "node:fs";
import { Engine } from "../bindings/index.js";
import { eventName, frameText, reading, type Reading } from "./event.js";
import { median } from "./stats.js";

export interface W4Variant {
  name: string;
  nsPerEvent: number;
}

export interface W4Result {
  type: "w4";
  events: number;
  identical: boolean;
  bytes: number;
  variants: W4Variant[];
}

const WASM = new URL("../build/sse.wasm", import.meta.url);
/** The batched engine variant drains once per this many events. */
const BATCH = 64;

function arg(name: string): number {
  const i = process.argv.indexOf(name);
  const n = Number(process.argv[i + 1]);
  if (i === -1 || !(n > 0)) throw new Error(`w4 needs ${name} N`);
  return n;
}

const events = arg("--events");
const rounds = arg("--rounds");
const values: Reading[] = Array.from({ length: events }, (_, i) => reading(i));
const names = Array.from({ length: events }, (_, i) => eventName(i));
const engine = await Engine.load(readFileSync(WASM), { maxConnections: 1, outBytes: 64 * 1024 });
const conn = engine.open();
const encoder = new TextEncoder();
/** Every variant adds its output lengths here, so no work can be optimised away. */
let sink = 0;

function stringFrame(v: Reading, name: string | undefined): string {
  const data = "data: " + JSON.stringify(v) + "\n\n";
  return name === undefined ? data : "event: " + name + "\n" + data;
}

const variants: Record<string, () => void> = {
  "engine: send + drain per event": () => {
    for (let i = 0; i < events; i++) {
      engine.send(conn, values[i], names[i]);
      sink += engine.drain(conn).length;
    }
  },
  [`engine: send, drain per ${BATCH} events`]: () => {
    for (let i = 0; i < events; i++) {
      engine.send(conn, values[i], names[i]);
      if (i % BATCH === BATCH - 1 || i === events - 1) sink += engine.drain(conn).length;
    }
  },
  "JSON.stringify + Buffer.from": () => {
    for (let i = 0; i < events; i++) sink += Buffer.from(stringFrame(values[i]!, names[i])).length;
  },
  "JSON.stringify + TextEncoder": () => {
    for (let i = 0; i < events; i++) sink += encoder.encode(stringFrame(values[i]!, names[i])).length;
  },
};

/** The engine's bytes against the reference frame, event by event. */
function identical(): { ok: boolean; bytes: number } {
  let bytes = 0;
  for (let i = 0; i < events; i++) {
    engine.send(conn, values[i], names[i]);
    const got = engine.drain(conn);
    const want = Buffer.from(frameText(i));
    bytes += got.length;
    if (!want.equals(got)) return { ok: false, bytes };
  }
  return { ok: true, bytes };
}

/** A minor GC (scavenge) of the young generation. */
const scavenge = (): void => (globalThis as unknown as { gc: (o: { type: "minor" }) => void }).gc({ type: "minor" });

const check = identical();
for (const run of Object.values(variants)) run(); // warm-up: every variant reaches optimised code
const samples = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(variants)) {
    const t0 = process.hrtime.bigint();
    run();
    scavenge();
    samples.get(name)!.push(Number(process.hrtime.bigint() - t0) / events);
  }
}
if (sink === 0) throw new Error("no bytes framed");
const result: W4Result = {
  type: "w4",
  events,
  identical: check.ok,
  bytes: check.bytes,
  variants: [...samples].map(([name, ns]) => ({ name, nsPerEvent: median(ns) })),
};
process.send!(result);
