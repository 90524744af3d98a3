// Builds dist/ from the TypeScript sources and build/ (run `npm run build:wasm` first):
//   1. dist/**/*.js + *.d.ts   ESM, by tsc (tsconfig.build.json), as before;
//   2. dist/build/             the core's files, copied;
//   3. dist/**/*.cjs           CommonJS, by esbuild, one file for each ESM file (not bundled:
//                              a module that two entries share, such as the one defining
//                              CancelledError, is one module for every require());
//   4. dist/**/*.d.cts         the declarations for CommonJS, each .d.ts with its relative
//                              imports pointed at the .cjs/.d.cts siblings.
// The .cjs files sit beside the .js ones, so relative paths (../../build/sse.wasm) hold for
// both. `import.meta.url` has no CommonJS meaning: in the .cjs files it becomes the file's own
// URL, made from __filename. browser.js (top-level await) and workerd.js (imports a .wasm
// module) have no CommonJS form: runtimes that take those entries load ES modules.
import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const require = createRequire(import.meta.url);

// The ES modules that exports' "require" conditions name; what they import comes along.
// (browser.js and workerd.js, and the wasi CLI with its top-level await, have no CommonJS form.)
const CJS_ENTRIES = ["index.js", "host/node/index.js", "host/web/index.js", "host/wasi/index.js", "host/redis/index.js", "host/metrics/index.js", "bindings/index.js"];
// Relative specifiers of the emitted ESM: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`.
const RELATIVE_JS = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)\.js\2/g;
const META_URL = "__wasm_sse_module_url";

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
cpSync(join(root, "build"), join(dist, "build"), { recursive: true });

// Every module the entries reach, found by esbuild walking the ESM graph.
const graph = await build({
  absWorkingDir: dist, entryPoints: CJS_ENTRIES, bundle: true, write: false, metafile: true,
  format: "esm", platform: "node", target: "es2022", packages: "external", outdir: "graph", logLevel: "warning",
  ignoreAnnotations: true, // "sideEffects": false must not hide a module imported for its effect (host/node/core-file.js)
});
const scripts = Object.keys(graph.metafile.inputs).sort();
const declarations = scripts.map((f) => f.replace(/\.js$/, ".d.ts"));

// Each file alone: every relative import stays a require() of its .cjs sibling.
const toCjs = {
  name: "relative-imports-to-cjs",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) =>
      args.kind === "entry-point" ? undefined : { path: args.path.replace(/\.js$/, ".cjs"), external: true, sideEffects: true });
  },
};
await build({
  absWorkingDir: dist, entryPoints: scripts, outdir: dist, outbase: dist, outExtension: { ".js": ".cjs" },
  bundle: true, format: "cjs", platform: "node", target: "es2022", packages: "external",
  plugins: [toCjs], define: { "import.meta.url": META_URL }, logLevel: "warning",
});
for (const f of scripts) {
  const file = join(dist, f.replace(/\.js$/, ".cjs"));
  let out = readFileSync(file, "utf8");
  if (!out.startsWith('"use strict";\n')) throw new Error(`dist/${f}: its CommonJS form is not strict`);
  if (/\bimport\.meta\b/.test(out)) throw new Error(`dist/${f}: import.meta left in its CommonJS form`);
  if (out.includes(META_URL)) {
    // Defined under the directive, before anything can call what reads it.
    out = out.replace('"use strict";\n', `"use strict";\nvar ${META_URL} = require("node:url").pathToFileURL(__filename).href;\n`);
    writeFileSync(file, out);
  }
}

for (const f of declarations) {
  const text = readFileSync(join(dist, f), "utf8").replace(RELATIVE_JS, "$1$2$3.cjs$2");
  writeFileSync(join(dist, f.replace(/\.d\.ts$/, ".d.cts")), text);
}
console.log(`dist: ${scripts.length} .cjs and ${declarations.length} .d.cts beside the ES modules`);
