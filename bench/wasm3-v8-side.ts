// V8's side of bench/wasm3-vs-v8.py: the same events (bench/wasm3-cases.json) framed through
// the raw exports of the same build, one send + out_consume per event. Prints one JSON line
// per case (events per second).
import { readFileSync } from "node:fs";
import { join } from "node:path";

interface FrameCase {
  name: string;
  flags: number;
  eventLen: number;
  idLen: number;
  dataLen: number;
  /** event name, id and data back to back, hex */
  stage: string;
}

const CASES: FrameCase[] = JSON.parse(readFileSync(join(import.meta.dirname, "wasm3-cases.json"), "utf8"));

const target = process.argv[2] ?? "release";
const file = target === "mcu" ? "sse-mcu.wasm" : "sse.wasm";
const wasm = readFileSync(join(import.meta.dirname, "..", "build", file));

function measure(c: FrameCase, seconds: number): number {
  const x = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports as Record<string, (...a: number[]) => number>;
  if (x.init!(1, 4096, 1024, 0) !== 0) throw new Error("init");
  const conn = x.conn_open!(-1);
  const staging = x.staging_ptr!();
  new Uint8Array((x.memory as unknown as WebAssembly.Memory).buffer).set(Buffer.from(c.stage, "hex"), staging);
  const { send, out_consume: consume } = x;
  let events = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1000; i++) {
      const n = send!(conn, c.flags, c.eventLen, c.idLen, c.dataLen, 0);
      if (n < 0 || consume!(conn, n) !== 0) throw new Error(`send: ${n}`);
    }
    events += 1000;
    now = process.hrtime.bigint();
  }
  return events / (Number(now - start) / 1e9);
}

for (const c of CASES) {
  measure(c, 0.3); // warm-up: let V8 tier up
  console.log(JSON.stringify({ runtime: "V8", target, case: c.name, eventsPerSecond: measure(c, 1) }));
}
