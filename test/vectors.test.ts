// Replays every conformance vector (test/vectors/data/) in V8 through the raw exports, on
// the release build and on the mcu build; the Python drivers in test/hosts/ replay the same
// files under wasmtime and wasm3.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Vector, VectorFile } from "./vectors/format.js";
import { replay, type Target } from "./vectors/replay.js";
import { v8Host } from "./vectors/v8-host.js";

const dir = join(import.meta.dirname, "vectors", "data");
const vectors: Vector[] = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .flatMap((f) => (JSON.parse(readFileSync(join(dir, f), "utf8")) as VectorFile).vectors);
const builds: Record<Target, Uint8Array> = {
  release: readFileSync(join(import.meta.dirname, "..", "build", "sse.wasm")),
  mcu: readFileSync(join(import.meta.dirname, "..", "build", "sse-mcu.wasm")),
};

describe("conformance vectors", () => {
  it("are at least 300", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(300);
  });

  for (const target of ["release", "mcu"] as const) {
    it(`V8 (${target} build) replays all ${vectors.length} vectors byte for byte`, () => {
      for (const v of vectors) replay(v, v8Host(builds[target]), target);
      console.log(`V8 ${target}: ${vectors.length} vectors passed`);
    });
  }

  it("a changed byte, status or missing NO_MEMORY is caught", () => {
    const drained = vectors.find((v) => v.steps.some((s) => "drain" in s && s.expect.length > 0))!;
    const byte = structuredClone(drained);
    const step = byte.steps.find((s) => "drain" in s && s.expect.length > 0) as { expect: string };
    step.expect = (step.expect[0] === "0" ? "1" : "0") + step.expect.slice(1);
    expect(() => replay(byte, v8Host(builds.release), "release")).toThrow(/drained/);

    const status = structuredClone(vectors.find((v) => v.name === "send-fields/refused/event-lf")!);
    const send = status.steps.find((s) => "call" in s && s.call === "send") as { expect: number };
    send.expect = -11;
    expect(() => replay(status, v8Host(builds.release), "release")).toThrow(/returned -10, expected -11/);

    const fits = { ...vectors.find((v) => v.mcu === "replay" && v.name.startsWith("init/config"))!, mcu: "no_memory" as const };
    expect(() => replay(fits, v8Host(builds.mcu), "mcu")).toThrow(/never said NO_MEMORY/);
  });
});
