// The package as an app imports it: built into dist/ (tsc, as `npm run build` does) and
// reached by name through its exports map, each subpath with its own API.
import { execFileSync } from "node:child_process";
import { cpSync } from "node:fs";
import { expect, it } from "vitest";

const SUBPATHS = ["wasm-sse", "wasm-sse/node", "wasm-sse/web", "wasm-sse/wasi", "wasm-sse/engine", "wasm-sse/bindings"];

it("serves every subpath of its exports map from the built package", { timeout: 120_000 }, () => {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "pipe" });
  cpSync("build", "dist/build", { recursive: true });
  // Imported by the package's own name (self-reference), as a dependent app would.
  const script = `
    const apis = {};
    for (const s of ${JSON.stringify(SUBPATHS)}) apis[s] = Object.keys(await import(s)).sort();
    const { sseResponse } = await import("wasm-sse/web");
    const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), (sse) => sse.send({ hi: 1 }, "greeting"));
    console.log(JSON.stringify({ apis, body: await response.text() }));`;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })) as { apis: Record<string, string[]>; body: string };
  const { apis } = out;
  expect(apis["wasm-sse/node"]).toEqual(["CancelledError", "Channel", "initCore", "withSse"]);
  expect(apis["wasm-sse/web"]).toEqual(["CancelledError", "Channel", "initCore", "sseResponse"]);
  expect(apis["wasm-sse/wasi"]).toEqual(["runSseWasi"]);
  expect(apis["wasm-sse/engine"]).toContain("Engine");
  expect(apis["wasm-sse/engine"]).not.toContain("withSse");
  expect(apis["wasm-sse/bindings"]).toEqual(apis["wasm-sse/engine"]);
  // The root keeps what it exported before the subpaths existed: both hosts and the engine.
  expect(apis["wasm-sse"]).toEqual([...new Set([...apis["wasm-sse/node"]!, ...apis["wasm-sse/web"]!, ...apis["wasm-sse/engine"]!])].sort());
  expect(out.body).toBe('event: greeting\ndata: {"hi":1}\n\n');
});
