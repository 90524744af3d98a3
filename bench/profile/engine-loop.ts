// W4's engine path alone (send + drain per event), for profiling: runs `--events` events
// `--rounds` times after a warm-up, reports its window to the parent, and stays until the
// parent disconnects (so a counting preload can still be asked for its counts).
import { readFileSync } from "node:fs";
import { Engine } from "../../bindings/index.js";
import { eventName, reading } from "../event.js";
import { monotonicUs } from "./case.js";

function arg(name: string): number {
  return Number(process.argv[process.argv.indexOf(name) + 1]);
}

const events = arg("--events");
const rounds = arg("--rounds");
const values = Array.from({ length: events }, (_, i) => reading(i));
const names = Array.from({ length: events }, (_, i) => eventName(i));
const engine = await Engine.load(readFileSync(new URL("../../build/sse.wasm", import.meta.url)), { maxConnections: 1, outBytes: 64 * 1024 });
const conn = engine.open();
let bytes = 0;
const loop = (): void => {
  for (let i = 0; i < events; i++) {
    engine.send(conn, values[i], names[i]);
    bytes += engine.drain(conn).length;
  }
};
loop(); // warm-up
process.send!({ type: "warm" });
await new Promise<void>((resolve) => process.once("message", () => resolve()));
const fromUs = monotonicUs();
const cpu0 = process.cpuUsage();
for (let r = 0; r < rounds; r++) loop();
const cpu = process.cpuUsage(cpu0);
process.send!({ type: "done", fromUs, toUs: monotonicUs(), units: events * rounds, cpuPerUnitUs: (cpu.user + cpu.system) / (events * rounds), bytes });
process.on("disconnect", () => process.exit(0));
