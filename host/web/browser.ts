// The web entry for browsers (and bundlers targeting them): the main thread may not compile a
// module over 4 KB synchronously, so the core is fetched and compiled first (top-level await);
// `new URL(…, import.meta.url)` (in coreUrl) is how bundlers find the file to ship.
// package.json lists this file under "sideEffects", so bundlers keep the initCore below.
import { coreUrl, initCore } from "../common/core-module.js";

initCore(await WebAssembly.compileStreaming(fetch(coreUrl())));

export * from "./index.js";
