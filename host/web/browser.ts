// The web entry for browsers (and bundlers targeting them): the main thread may not compile a
// module over 4 KB synchronously, so the core is fetched and compiled first (top-level await);
// `new URL(…, import.meta.url)` is how bundlers find the file to ship.
import { CORE_URL, initCore } from "../common/core-module.js";

initCore(await WebAssembly.compileStreaming(fetch(CORE_URL)));

export * from "./index.js";
