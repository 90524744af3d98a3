// The web entry for Cloudflare Workers (workerd): it refuses to compile wasm from bytes, but
// takes a .wasm imported as a module (wrangler and esbuild keep such an import as it is).
// package.json lists this file under "sideEffects", so bundlers keep the initCore below.
import core from "../../build/sse.wasm";
import { initCore } from "../common/core-module.js";

initCore(core);

export * from "./index.js";
