// The built modules against the ABI documented in README.md: same exports, same signatures,
// no imports, and no wasm feature the wasm3 interpreter lacks.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { wasmModule } from "./support/wasm.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const abiSection = readme.slice(readme.indexOf("## ABI"), readme.indexOf("### Status codes"));
/** name → "(i32, f64) -> i32", from the README table rows "| `name` | `(a: i32, …) -> i32` | … |". */
const documented = new Map(
  [...abiSection.matchAll(/^\| `(\w+)` \| `\(([^)]*)\) -> (\w+)` \|/gm)].map((m) => [
    m[1]!,
    `(${m[2]!.split(",").filter(Boolean).map((p) => p.split(":")[1]!.trim()).join(", ")}) -> ${m[3]}`,
  ]),
);

/** name → signature of each exported function, read from the text format asc writes. */
function exportedSignatures(wat: string): Map<string, string> {
  const funcs = new Map<string, string>();
  for (const m of wat.matchAll(/^ \(func (\$\S+)((?: \(param \$\w+ \w+\))*)(?: \(result (\w+)\))?/gm)) {
    const params = [...m[2]!.matchAll(/\(param \$\w+ (\w+)\)/g)].map((p) => p[1]);
    funcs.set(m[1]!, `(${params.join(", ")}) -> ${m[3] ?? "void"}`);
  }
  const out = new Map<string, string>();
  for (const m of wat.matchAll(/\(export "(\w+)" \(func (\$\S+)\)\)/g)) out.set(m[1]!, funcs.get(m[2]!)!);
  return out;
}

it("documents at least the whole ABI table (sanity check of the parser)", () => {
  expect(documented.size).toBeGreaterThanOrEqual(19);
  expect(documented.get("send")).toBe("(i32, i32, i32, i32, i32, f64) -> i32");
});

for (const name of ["sse", "sse-mcu"]) {
  it(`build/${name}.wasm imports nothing and exports exactly the documented functions and memory`, () => {
    const m = wasmModule(name);
    expect(WebAssembly.Module.imports(m)).toEqual([]);
    const exports = WebAssembly.Module.exports(m);
    expect(exports.filter((x) => x.kind === "memory").map((x) => x.name)).toEqual(["memory"]);
    expect(exports.filter((x) => x.kind === "function").map((x) => x.name).sort()).toEqual([...documented.keys()].sort());
    expect(exports.every((x) => x.kind === "function" || x.kind === "memory")).toBe(true);
  });
}

it("each export has the documented signature (only i32 and f64 cross the boundary)", () => {
  const wat = readFileSync(new URL("../build/sse.wat", import.meta.url), "utf8");
  expect(Object.fromEntries(exportedSignatures(wat))).toEqual(Object.fromEntries(documented));
});

it("uses no SIMD, reference types, threads or exceptions (wasm3 runs it)", () => {
  const wat = readFileSync(new URL("../build/sse.wat", import.meta.url), "utf8");
  expect(wat).not.toMatch(/\bv128\b|\bfuncref\b|\bexternref\b|\batomic\b|\bshared\b|\btry\b|\bthrow\b/);
});

it("stays within its size goals: release < 32 KiB, mcu < 24 KiB", () => {
  const size = (n: string) => readFileSync(new URL(`../build/${n}.wasm`, import.meta.url)).length;
  expect(size("sse")).toBeLessThan(32 * 1024);
  expect(size("sse-mcu")).toBeLessThan(24 * 1024);
});
