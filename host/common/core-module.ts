// The core's compiled module: compiled once per process, instantiated per engine (each
// instance owns its own linear memory). Compiled synchronously, so withSse(), sseResponse()
// and new Channel() stay synchronous; the module is ~16 KB.
//
// Where its bytes come from is the runtime's business, so nothing here imports a `node:`
// module: an entry point names a source (the Node host reads build/sse.wasm with node:fs;
// the workerd entry imports it as a module, the browser entry fetches it), an app may hand
// over the module itself (initCore), and otherwise build/sse.wasm is read with
// process.getBuiltinModule("node:fs") (Node ≥ 20.16, Bun, Deno) or Deno.readFileSync.

/**
 * build/sse.wasm, from host/common/*.ts in the repo and from dist/host/common/*.js (build/ is
 * copied to dist/build). A function, not a constant: where modules have no URL (workerd at
 * compatibility date 2025-01-01: import.meta.url is undefined) loading this module must not throw.
 */
export function coreUrl(): URL {
  return new URL("../../build/sse.wasm", import.meta.url);
}

type Source = () => BufferSource;

let compiled: WebAssembly.Module | undefined;
let source: Source | undefined;

/** Uses this module (or these bytes) for every engine made from now on; call it before the first stream. */
export function initCore(module: WebAssembly.Module | BufferSource): void {
  compiled = module instanceof WebAssembly.Module ? module : new WebAssembly.Module(module);
}

/** An entry point's way to the bytes, used unless initCore() was called (the first entry to ask wins). */
export function setCoreSource(load: Source): void {
  source ??= load;
}

export function coreModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module((source ?? readBuiltFile)());
  return compiled;
}

/** A fresh instance of the core. */
export function coreInstance(): WebAssembly.Instance {
  return new WebAssembly.Instance(coreModule(), {});
}

function readBuiltFile(): BufferSource {
  type Fs = { readFileSync(path: URL): Uint8Array<ArrayBuffer> };
  const runtime = globalThis as { process?: { getBuiltinModule?: (id: string) => Fs | undefined }; Deno?: Fs };
  const fs = runtime.process?.getBuiltinModule?.("node:fs") ?? runtime.Deno;
  if (fs === undefined) throw new Error("wasm-sse: this runtime cannot read build/sse.wasm by itself; pass the compiled module to initCore() first");
  return fs.readFileSync(coreUrl());
}
