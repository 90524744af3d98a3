// The built modules against the ABI documented in README.md: same exports, same signatures,
// no imports, and no wasm feature the wasm3 interpreter lacks. Then assembly/abi.ts, the one
// source of the ABI's numbers: the C header generated from it holds each of them, and each
// does what it is named against the built module.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as abi from "../assembly/abi.js";
import type { SseExports } from "../bindings/abi.js";
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

/** A fresh instance of build/<name>.wasm. */
const instance = (name = "sse") => new WebAssembly.Instance(wasmModule(name), {}).exports as unknown as SseExports;

for (const name of ["sse", "sse-mcu"]) {
  it(`build/${name}.wasm answers abi_version() with assembly/abi.ts ABI_VERSION`, () => {
    expect(instance(name).abi_version()).toBe(abi.ABI_VERSION);
  });

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

describe("build/wasm_sse.h, generated from assembly/abi.ts", () => {
  const header = readFileSync(new URL("../build/wasm_sse.h", import.meta.url), "utf8");

  it("defines each constant of assembly/abi.ts with its value, and nothing else", () => {
    const defines = [...header.matchAll(/^#define SSE_(\w+) \(?(-?\w+)\)?/gm)].map((m) => [m[1]!, Number(m[2])]);
    expect(Object.fromEntries(defines)).toEqual({ ...abi });
  });

  it("lists each export with its README signature", () => {
    const type: Record<string, string> = { int32_t: "i32", double: "f64" };
    const listed = [...header.matchAll(/^ \*   (int32_t|double) (\w+)\((.*)\);$/gm)].map(([, result, name, params]) => [
      name!,
      `(${params === "void" ? "" : params!.split(", ").map((p) => type[p.split(" ")[0]!]).join(", ")}) -> ${type[result!]}`,
    ]);
    expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(documented));
  });
});

describe("each constant of assembly/abi.ts does what it is named in the built module", () => {
  const le32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24];
  /** A tape string of ASCII `s`, as UTF-8 or as UTF-16. */
  const str8 = (tag: number, s: string) => [tag, ...le32(s.length), ...Buffer.from(s)];
  const str16 = (tag: number, s: string) => [tag, ...le32(s.length), ...Buffer.from(s, "utf16le")];

  /** An instance initialised with one open connection; `stage` writes at staging + at, `take` drains all. */
  function opened(outBytes = 1024, stagingBytes = 1024) {
    const x = instance();
    expect(x.init(1, outBytes, stagingBytes, 0)).toBe(0);
    const conn = x.conn_open(-1);
    const stage = (bytes: number[] | string, at = 0) =>
      new Uint8Array(x.memory.buffer, x.staging_ptr() + at).set(typeof bytes === "string" ? Buffer.from(bytes) : bytes);
    const take = () => {
      const n = x.out_len(conn);
      const text = Buffer.from(new Uint8Array(x.memory.buffer, x.out_ptr(conn), n)).toString("latin1");
      x.out_consume(conn, n);
      return text;
    };
    return { x, conn, stage, take };
  }

  it("send() flags and conn_stat() indexes", () => {
    const { x, conn, stage, take } = opened();
    expect(x.history_init(4, 1024)).toBe(0);
    stage("eid");
    const framed = x.send(conn, abi.HAS_EVENT | abi.HAS_ID | abi.HAS_RETRY | abi.RECORD, 1, 1, 1, 5);
    const stat = (which: number) => x.conn_stat(conn, which);
    expect([stat(abi.STAT_EVENTS), stat(abi.STAT_BYTES_FRAMED), stat(abi.STAT_PENDING), stat(abi.STAT_BYTES_DRAINED)]).toEqual([1, framed, framed, 0]);
    expect([stat(abi.STAT_RETRY), stat(abi.STAT_DEADLINE), stat(abi.STAT_HAS_LAST_ID), stat(abi.STAT_HAS_LAST_ID + 1)]).toEqual([5, Infinity, 1, NaN]);
    expect(take()).toBe("event: e\nid: i\nretry: 5\ndata: d\n\n");
    expect([stat(abi.STAT_PENDING), stat(abi.STAT_BYTES_DRAINED)]).toEqual([0, framed]);
    expect(x.history_count()).toBe(1);
    // A field the flags leave out must have length 0 (ABI 5); DATA_JSON is in the tape test.
    expect(x.send(conn, abi.HAS_ID | abi.NO_DATA, 0, 1, 99, 0)).toBe(abi.ERR_BAD_ARG);
    expect(x.send(conn, abi.HAS_ID, 1, 1, 1, 0)).toBe(abi.ERR_BAD_ARG);
    expect(x.send(conn, abi.HAS_EVENT, 1, 1, 1, 0)).toBe(abi.ERR_BAD_ARG);
    expect(x.out_len(conn)).toBe(0);
    expect(x.send(conn, abi.HAS_ID | abi.NO_DATA, 0, 1, 0, 0)).toBeGreaterThan(0);
    expect(take()).toBe("id: e\n\n");
    expect(abi.HAS_EVENT | abi.HAS_ID | abi.HAS_RETRY | abi.DATA_JSON | abi.NO_DATA | abi.RECORD).toBe(abi.ALL_FLAGS);
    expect(x.send(conn, abi.ALL_FLAGS + 1, 0, 0, 1, 0)).toBe(abi.ERR_BAD_ARG);
  });

  it("tape tags", () => {
    const { x, conn, stage, take } = opened();
    expect(x.shape_init(4, 256)).toBe(0);
    const keys = [...le32(3), ...str8(abi.TAG_KEY8, "a"), ...str16(abi.TAG_KEY16, "b"), ...str8(abi.TAG_STR8, "c")];
    stage(keys, 512);
    expect(x.shape_define(512, keys.length)).toBe(0);
    stage("kept", 900);
    const tape = [
      abi.TAG_ARRAY, abi.TAG_NULL, abi.TAG_FALSE, abi.TAG_TRUE,
      abi.TAG_NUMBER, ...new Uint8Array(new Float64Array([1.5]).buffer), abi.TAG_INT32, ...le32(-2),
      ...str8(abi.TAG_STR8, "s"), ...str16(abi.TAG_STR16, "u"),
      abi.TAG_OBJECT, ...str8(abi.TAG_KEY8, "k"), abi.TAG_NULL, ...str16(abi.TAG_KEY16, "w"), abi.TAG_TRUE, abi.TAG_OBJECT_END,
      abi.TAG_SHAPE, 0, 0, abi.TAG_SKIP, abi.TAG_STR_AT, ...le32(900), ...le32(4), abi.TAG_NULL,
      abi.TAG_SHAPE, 0, 0, abi.TAG_SKIPS, 3,
      abi.TAG_ARRAY_END,
    ];
    stage(tape);
    expect(x.send(conn, abi.DATA_JSON, 0, 0, tape.length, 0)).toBeGreaterThan(0);
    expect(take()).toBe('data: [null,false,true,1.5,-2,"s","u",{"k":null,"w":true},{"b":"kept","c":null},{}]\n\n');
  });

  it("limits", () => {
    const x = instance();
    const { MIN_REGION, MAX_REGION, MIN_STAGING, ERR_BAD_ARG } = abi;
    for (const args of [[abi.MAX_CONNS + 1, MIN_REGION, MIN_STAGING], [1, MIN_REGION - 1, MIN_STAGING], [1, MAX_REGION + 1, MIN_STAGING],
      [1, MIN_REGION, MIN_STAGING - 1], [1, MIN_REGION, MAX_REGION + 1]] as const) {
      expect(x.init(args[0], args[1], args[2], 0)).toBe(ERR_BAD_ARG);
    }
    expect(x.init(1, MIN_REGION, MIN_STAGING, 0)).toBe(0);
    for (const [count, bytes] of [[abi.MAX_HISTORY_EVENTS + 1, 64], [4, MIN_REGION - 1], [4, MAX_REGION + 1]]) {
      expect(x.history_init(count!, bytes!)).toBe(ERR_BAD_ARG);
    }
    for (const [count, bytes] of [[abi.MAX_SHAPES + 1, 64], [4, MIN_REGION - 1], [4, MAX_REGION + 1]]) {
      expect(x.shape_init(count!, bytes!)).toBe(ERR_BAD_ARG);
    }
    // The wide region must be larger than outBytes (here MIN_REGION), and at most MAX_REGION.
    for (const bytes of [MIN_REGION, MAX_REGION + 1]) expect(x.wide_init(bytes)).toBe(ERR_BAD_ARG);

    const { x: y, conn, stage } = opened(2048);
    stage("i".repeat(abi.ID_MAX + 1));
    expect(y.send(conn, abi.HAS_ID | abi.NO_DATA, 0, abi.ID_MAX, 0, 0)).toBeGreaterThan(0);
    expect(y.send(conn, abi.HAS_ID | abi.NO_DATA, 0, abi.ID_MAX + 1, 0, 0)).toBe(abi.ERR_ID_TOO_LONG);
    const nested = (depth: number) => [...Array<number>(depth).fill(abi.TAG_ARRAY), ...Array<number>(depth).fill(abi.TAG_ARRAY_END)];
    stage(nested(abi.MAX_DEPTH));
    expect(y.send(conn, abi.DATA_JSON, 0, 0, 2 * abi.MAX_DEPTH, 0)).toBeGreaterThan(0);
    stage(nested(abi.MAX_DEPTH + 1));
    expect(y.send(conn, abi.DATA_JSON, 0, 0, 2 * abi.MAX_DEPTH + 2, 0)).toBe(abi.ERR_BAD_TAPE);
  });
});
