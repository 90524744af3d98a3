// Every host's public API; the package root re-exports it next to the bindings.
export * from "./node/index.js";
export * from "./web/index.js";
