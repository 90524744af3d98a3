// Loads the built modules for tests. `npm test` builds them first (pretest).
import { readFileSync } from "node:fs";
import { Engine, type EngineOptions } from "../../bindings/index.js";

const root = new URL("../../build/", import.meta.url);
const modules = new Map<string, WebAssembly.Module>();

/** The compiled module of build/<name>.wasm, compiled once per test file. */
export function wasmModule(name = "sse"): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(new URL(`${name}.wasm`, root)));
    modules.set(name, m);
  }
  return m;
}

export function wasmBytes(name = "sse"): Buffer {
  return readFileSync(new URL(`${name}.wasm`, root));
}

/** A fresh engine on a fresh instance of build/<name>.wasm. */
export function engine(options: EngineOptions = {}, name = "sse"): Engine {
  return new Engine(new WebAssembly.Instance(wasmModule(name), {}), options);
}

/** A deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
