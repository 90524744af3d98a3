// The firmware's call script replayed in V8 on the same build, step for step as host.c does:
// writes the same two outputs, the drained bytes (the firmware's USART1) and the transcript
// (its USART2, without the instruction counts and measurements), for test/hosts/test_mcu.py.
//   node replay-v8.mjs WASM SCRIPT STREAM_OUT TRANSCRIPT_OUT
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, scriptPath, streamOut, transcriptOut] = process.argv.slice(2);
const module = new WebAssembly.Module(readFileSync(wasmPath));
const script = readFileSync(scriptPath);
const NO_LIMIT = 0xffffffff;
// Which exports return f64 is not visible through the JS API; these are the ABI's.
const F64_RESULTS = new Set(["conn_stat", "next_deadline"]);
const hex = (b) => Buffer.from(b).toString("hex");

let pc = 0;
const u8 = () => script[pc++];
const u32 = () => ((pc += 4), script.readUInt32LE(pc - 4));
const f64 = () => ((pc += 8), script.readDoubleLE(pc - 8));
const name = () => { const n = u8(); pc += n; return script.toString("latin1", pc - n, pc); };
const nums = () => Array.from({ length: u8() }, f64);

let ex, t = "";
const stream = [];
const mem = () => new Uint8Array(ex.memory.buffer);
for (let op; (op = String.fromCharCode(u8())) !== "E"; ) {
  if (op === "V") {
    const n = script.readUInt16LE(pc);
    t += `V ${script.toString("utf8", pc + 2, pc + 2 + n)}\n`;
    pc += 2 + n;
    ex = new WebAssembly.Instance(module, {}).exports;
  } else if (op === "C") {
    const f = name(), args = nums(), stage = script.subarray(pc + 4, pc + 4 + u32());
    pc += stage.length;
    if (stage.length) {
      const at = ex.staging_ptr();
      if (at >= 0 && at + stage.length <= ex.memory.buffer.byteLength) mem().set(stage, at);
      else t += "stage: out of bounds\n";
    }
    const r = ex[f](...args);
    if (F64_RESULTS.has(f)) { const b = Buffer.alloc(8); b.writeDoubleBE(r); t += `C ${f} f64:${hex(b)}\n`; }
    else t += `C ${f} ${r}\n`;
  } else if (op === "D") {
    const h = u32(), chunks = Array.from({ length: u8() }, u32), max = u32();
    let got = 0, line = "";
    for (let k = 0; max === NO_LIMIT || got < max; k++) {
      const pending = ex.out_len(h);
      if (pending < 0) { line += `!out_len ${pending}`; break; }
      if (pending === 0) break;
      const chunk = chunks[k % chunks.length];
      let at, n;
      if (chunk === 0) { at = ex.out_take(h); n = new DataView(ex.memory.buffer).getUint32(ex.taken_ptr(), true); }
      else { n = Math.min(pending, chunk, max === NO_LIMIT ? Infinity : max - got); at = ex.out_ptr(h); }
      const b = mem().slice(at, at + n);
      line += hex(b);
      stream.push(b);
      if (chunk) { const c = ex.out_consume(h, n); if (c !== 0) { line += `!out_consume ${c}`; break; } }
      got += n;
    }
    t += `D ${line}\n`;
  } else if (op === "R") {
    const f = name(), args = nums();
    const len = u8() === 0 ? u32() : ((lf, la) => ex[lf](...la))(name(), nums());
    const at = ex[f](...args);
    t += `R ${hex(mem().slice(at, at + len))}\n`;
  } else throw new Error(`bad script op ${op}`);
}
writeFileSync(streamOut, Buffer.concat(stream));
writeFileSync(transcriptOut, t);
