// README "ABI" → "The JSON value tape" has a worked example in hex. Here the hex is read from
// README.md itself (the ```text block after each `<!-- readme-tape: NAME -->` marker), so the
// README cannot drift: the core, given those bytes through its raw exports, frames exactly
// JSON.stringify's text, and bindings/tape.ts's TapeWriter writes exactly those bytes.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { SseExports } from "../bindings/abi.js";
import { TapeWriter } from "../bindings/tape.js";
import { DATA_JSON } from "../assembly/abi.js";
import { wasmModule } from "./support/wasm.js";

const VALUE = { counter: 1, name: "x", value: 2.5 };
const FRAME = `data: ${JSON.stringify(VALUE)}\n\n`;
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The bytes of the README's hex block after `<!-- readme-tape: name -->` (`# …` is a comment). */
function readmeHex(name: string): Uint8Array {
  const marker = `<!-- readme-tape: ${name} -->\n\`\`\`text\n`;
  const at = readme.indexOf(marker);
  expect(at, `marker ${name} in README.md`).toBeGreaterThanOrEqual(0);
  expect(readme.indexOf(marker, at + 1), `marker ${name} once`).toBe(-1);
  const block = readme.slice(at + marker.length, readme.indexOf("\n```", at + marker.length));
  const hex = block.split("\n").map((line) => line.replace(/#.*/, "").replace(/\s+/g, "")).join("");
  expect(hex).toMatch(/^(?:[0-9A-Fa-f]{2})+$/);
  return Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
}

function rawInstance(): SseExports {
  return new WebAssembly.Instance(wasmModule(), {}).exports as unknown as SseExports;
}

/** A fresh core, configured (with shapes if asked), and one open connection. */
function core(shapes: boolean) {
  const x = rawInstance();
  expect(x.init(1, 4096, 1024, 0)).toBe(0);
  if (shapes) expect(x.shape_init(16, 1024)).toBe(0);
  const conn = x.conn_open(-1);
  expect(conn).toBeGreaterThan(0);
  const staging = x.staging_ptr();
  const stage = (bytes: Uint8Array, at = 0) => new Uint8Array(x.memory.buffer, staging + at, bytes.length).set(bytes);
  const drain = () => {
    const n = x.out_len(conn);
    const bytes = new Uint8Array(x.memory.buffer, x.out_ptr(conn), n).slice();
    expect(x.out_consume(conn, n)).toBe(0);
    return new TextDecoder().decode(bytes);
  };
  return { x, conn, staging, stage, drain };
}

describe("README's JSON value tape example", () => {
  const spelled = readmeHex("spelled");
  const keys = readmeHex("keys");
  const shaped = readmeHex("shaped");

  it("the README's byte counts are those of its hex", () => {
    expect([spelled.length, keys.length, shaped.length]).toEqual([53, 35, 23]);
    expect(readme).toContain("53 bytes of tape; `send(conn, DATA_JSON, 0, 0, 53, 0)`");
    expect(readme).toContain("`shape_define(at, 35)`");
    expect(readme).toContain("every such object is 23 bytes of tape");
    expect(new TextEncoder().encode(FRAME).length).toBe(44);
  });

  it("spelled out: the core frames exactly JSON.stringify's text", () => {
    const { x, conn, stage, drain } = core(false);
    stage(spelled);
    expect(x.send(conn, DATA_JSON, 0, 0, spelled.length, 0)).toBe(44);
    expect(drain()).toBe(FRAME);
  });

  it("spelled out: is what the bindings' TapeWriter writes with shapes off", () => {
    const { x, conn, staging, drain } = core(false);
    const writer = new TapeWriter(x.memory.buffer); // no define: shapes off
    const n = writer.write(VALUE, staging, staging + x.staging_cap());
    expect(new Uint8Array(x.memory.buffer, staging, n)).toEqual(spelled);
    expect(x.send(conn, DATA_JSON, 0, 0, n, 0)).toBe(44);
    expect(drain()).toBe(FRAME);
  });

  it("with a shape: the key list defines shape 0, and the shaped tape frames the same text", () => {
    const { x, conn, stage, drain } = core(true);
    stage(keys, 512);
    expect(x.shape_define(512, keys.length)).toBe(0);
    stage(shaped);
    expect(x.send(conn, DATA_JSON, 0, 0, shaped.length, 0)).toBe(44);
    expect(drain()).toBe(FRAME);
  });

  for (const compile of [false, true]) {
    it(`with a shape: the key list and tape are what TapeWriter stages (compiled readers: ${compile})`, () => {
      const { x, conn, staging, drain } = core(true);
      const lists: Uint8Array[] = [];
      // As bindings/engine.ts wires it: the writer passes an address, the core wants an offset.
      const define = (at: number, len: number) => {
        lists.push(new Uint8Array(x.memory.buffer, at, len).slice());
        return x.shape_define(at - staging, len);
      };
      const writer = new TapeWriter(x.memory.buffer, undefined, define, compile);
      const n = writer.write(VALUE, staging, staging + x.staging_cap());
      expect(lists).toEqual([keys]);
      expect(new Uint8Array(x.memory.buffer, staging, n)).toEqual(shaped);
      expect(x.send(conn, DATA_JSON, 0, 0, n, 0)).toBe(44);
      expect(drain()).toBe(FRAME);
    });
  }
});
