// The core's compiled module: read and compiled once per process, instantiated per engine.
// Compiling synchronously keeps withSse() and new Channel() synchronous; the module is ~15 KB.
import { readFileSync } from "node:fs";

// From host/node/*.ts in the repo and from dist/host/node/*.js (build/ is copied to dist/build).
const WASM_URL = new URL("../../build/sse.wasm", import.meta.url);

let compiled: WebAssembly.Module | undefined;

export function sseModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(WASM_URL));
  return compiled;
}

/** A fresh instance of the core; each one owns its own linear memory. */
export function sseInstance(): WebAssembly.Instance {
  return new WebAssembly.Instance(sseModule(), {});
}
