// Preloaded into a peer (node --import) to count calls across the wasm boundary: every
// export of every WebAssembly.Instance is wrapped with a counter, and so are HTTP response
// writes (count and bytes). The counts are sent back when the runner asks with
// {type: "calls"}. The wrappers cost time, so a counting run is never a timing run.
import http from "node:http";

const counts: Record<string, number> = {};
const Original = WebAssembly.Instance;

function countingInstance(module: WebAssembly.Module, imports?: WebAssembly.Imports): WebAssembly.Instance {
  const instance = new Original(module, imports);
  const exports: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(instance.exports)) {
    if (typeof value !== "function") {
      exports[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    exports[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1;
      return fn(...args);
    };
  }
  return { exports } as WebAssembly.Instance;
}

// A constructor that returns an object yields that object from `new`.
WebAssembly.Instance = countingInstance as unknown as typeof WebAssembly.Instance;
const originalInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = (async (source: WebAssembly.Module | BufferSource, imports?: WebAssembly.Imports) => {
  const module = source instanceof WebAssembly.Module ? source : await WebAssembly.compile(source);
  return countingInstance(module, imports);
}) as typeof originalInstantiate;

const originalWrite = http.OutgoingMessage.prototype.write;
http.OutgoingMessage.prototype.write = function (this: http.OutgoingMessage, chunk: unknown, ...rest: unknown[]) {
  counts["(res.write)"] = (counts["(res.write)"] ?? 0) + 1;
  const bytes = typeof chunk === "string" ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
  counts["(res.write bytes)"] = (counts["(res.write bytes)"] ?? 0) + bytes;
  return (originalWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
} as typeof originalWrite;

process.on("message", (msg: { type: string }) => {
  if (msg.type !== "calls") return;
  process.send!({ type: "calls", counts: { ...counts } });
  for (const k of Object.keys(counts)) counts[k] = 0;
});
