// The web entries (host/web/index.ts, and its browser and workerd forms) and everything they
// reach run where there is no `node:` module: a bundler targeting browsers (esbuild, which also
// serves Workers and Deno bundles) resolves the whole graph, and the code type-checks without
// Node's types.
import { execFileSync } from "node:child_process";
import { builtinModules } from "node:module";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

/** The Node builtins a bundle of `entry` for browsers would need. */
async function nodeImports(entry: string): Promise<string[]> {
  const result = await build({ entryPoints: [entry], bundle: true, write: false, platform: "browser", format: "esm", target: "es2022", metafile: true, logLevel: "silent", external: ["node:*", "*.wasm", ...builtinModules] });
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((i) => i.path));
  return [...new Set(imports.filter((path) => path.startsWith("node:") || builtinModules.includes(path)))].sort();
}

describe("the web entry", () => {
  it("reaches no node: module, in any of its forms (the Node entry, for contrast, does)", async () => {
    for (const entry of ["host/web/index.ts", "host/web/browser.ts", "host/web/workerd.ts"]) expect(await nodeImports(entry), entry).toEqual([]);
    expect(await nodeImports("host/node/index.ts")).toEqual(["node:diagnostics_channel", "node:fs"]);
  });

  it("type-checks without Node's types (tsconfig.web.json)", () => {
    execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.web.json"], { stdio: "pipe" });
  });
});
