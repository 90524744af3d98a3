// The package root: the runtime-agnostic engine and the Node host.
export * from "./bindings/index.js";
export * from "./host/index.js";
