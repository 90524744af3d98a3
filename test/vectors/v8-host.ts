// The raw-ABI host for V8: the module's exports called directly, memory read and written
// through fresh views (init may grow memory, which detaches older ones).
import type { RawHost } from "./replay.js";

export function v8Host(wasm: Uint8Array): RawHost {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)), {});
  const x = instance.exports as Record<string, unknown>;
  const memory = x.memory as WebAssembly.Memory;
  return {
    call(name, args) {
      const f = x[name];
      if (typeof f !== "function") throw new Error(`the module exports no function ${name}`);
      return f(...args) as number;
    },
    read: (ptr, len) => new Uint8Array(memory.buffer, ptr, len).slice(),
    write: (ptr, bytes) => new Uint8Array(memory.buffer).set(bytes, ptr),
  };
}
