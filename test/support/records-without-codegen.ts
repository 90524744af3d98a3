// Run by test/json.test.ts under node --disallow-code-generation-from-strings: the frames an
// Engine makes of some records, and the tape length of one record with shapes and without
// (shapes must still serve there, their values read in a loop over their keys).
import { readFileSync } from "node:fs";
import { Engine } from "../../bindings/index.js";
import { TapeWriter } from "../../bindings/tape.js";

const records = JSON.parse(process.argv[2]!) as unknown[];
const engine = new Engine(new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL("../../build/sse.wasm", import.meta.url))), {}));
const conn = engine.open();
let frames = "";
for (const record of records) {
  engine.send(conn, record);
  frames += new TextDecoder().decode(engine.drain(conn));
}
const memory = new ArrayBuffer(4096);
let shapes = 0;
const tapeLength = (define?: () => number) => new TapeWriter(memory, undefined, define).write(records[0], 0, 4096);
process.stdout.write(JSON.stringify({ frames, shaped: tapeLength(() => shapes++), spelled: tapeLength() }));
