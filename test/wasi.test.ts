// The WASI command (build/sse-wasi.wasm) under Node's node:wasi, through host/wasi/: every
// case of test/vectors/wasi/cases.json byte for byte (test/hosts/test_wasi.py runs the same
// cases under Wasmtime), and `tail -f` streaming through the CLI with real pipes.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runSseWasi, sseWasiModule } from "../host/wasi/run.js";
import type { WasiCase } from "./vectors/wasi-cases.js";
import { rng } from "./support/wasm.js";

const root = join(import.meta.dirname, "..");
const { cases } = JSON.parse(readFileSync(join(root, "test/vectors/wasi/cases.json"), "utf8")) as { cases: WasiCase[] };

function stdinOf(c: WasiCase): Buffer {
  return Buffer.concat(c.stdin.flatMap(([hex, n]) => Array<Buffer>(n).fill(Buffer.from(hex, "hex"))));
}

/** Runs one case with its stdio on files, in this process. */
async function runCase(c: WasiCase): Promise<{ code: number; out: Buffer; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sse-wasi-"));
  writeFileSync(join(dir, "in"), stdinOf(c));
  const fds = [openSync(join(dir, "in"), "r"), openSync(join(dir, "out"), "w"), openSync(join(dir, "err"), "w")] as const;
  try {
    const code = await runSseWasi({ args: c.args, stdin: fds[0], stdout: fds[1], stderr: fds[2] });
    return { code, out: readFileSync(join(dir, "out")), err: readFileSync(join(dir, "err"), "utf8") };
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

describe("sse-wasi.wasm under node:wasi", () => {
  it("imports nothing but WASI preview1", async () => {
    const imports = WebAssembly.Module.imports(await sseWasiModule());
    expect(new Set(imports.map((i) => i.module))).toEqual(new Set(["wasi_snapshot_preview1"]));
    expect(imports.map((i) => i.name).sort()).toEqual(["args_get", "args_sizes_get", "fd_read", "fd_write", "proc_exit"]);
  });

  it(`runs all ${cases.length} cases byte for byte`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const c of cases) {
      const { code, out, err } = await runCase(c);
      expect({ name: c.name, code, err }).toEqual({ name: c.name, code: c.exit, err: c.stderr });
      if (c.stdout !== undefined) expect(out.toString("hex"), c.name).toBe(c.stdout);
      else expect(createHash("sha256").update(out).digest("hex"), c.name).toBe(c.stdout_sha256);
    }
    console.log(`node:wasi: ${cases.length} WASI cases passed`);
  });

  it("--json reads random bytes as TextDecoder does: each data line is JSON.stringify({ line }) of the decoded line", async () => {
    const random = rng(13);
    // Bytes that make UTF-8 of every kind, well- and ill-formed: ASCII, continuations, every lead byte, boundaries.
    const pool = [0x41, 0x22, 0x5c, 0x0d, 0x09, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xfe, 0xff];
    const lines: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(random() * 12);
      lines.push(Uint8Array.from({ length: n }, () => (random() < 0.5 ? pool[Math.floor(random() * pool.length)]! : 0x80 + Math.floor(random() * 0x80))));
    }
    const stdin = Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")]));
    const { code, out, err } = await runCase({ name: "random", args: ["--json"], stdin: [[stdin.toString("hex"), 1]], stderr: "", exit: 0 });
    expect({ code, err }).toEqual({ code: 0, err: "" });
    const want = lines.map((l) => {
      const end = l.length > 0 && l[l.length - 1] === 0x0d ? l.length - 1 : l.length;
      return `data: ${JSON.stringify({ line: new TextDecoder().decode(l.subarray(0, end)) })}\n\n`;
    }).join("");
    // Valid UTF-8 throughout (a fatal decoder accepts it), and the very bytes JSON.stringify gives.
    expect(new TextDecoder("utf-8", { fatal: true }).decode(out)).toBe(want);
  });

  it("streams `tail -f` output line by line while its input stays open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sse-wasi-tail-"));
    const log = join(dir, "app.log");
    writeFileSync(log, "boot\n");
    const tail = spawn("tail", ["-n", "+1", "-f", log], { stdio: ["ignore", "pipe", "inherit"] });
    const cli = spawn(process.execPath, ["--no-warnings", "--import", "tsx", join(root, "host/wasi/cli.ts"), "--event", "log", "--id-start", "1"], {
      stdio: [tail.stdout, "pipe", "inherit"],
    });
    let got = "";
    const frames: string[] = [];
    const waiters: (() => void)[] = [];
    cli.stdout.on("data", (b: Buffer) => {
      got += b.toString();
      let end: number;
      while ((end = got.indexOf("\n\n")) >= 0) {
        frames.push(got.slice(0, end + 2));
        got = got.slice(end + 2);
      }
      waiters.splice(0).forEach((w) => w());
    });
    const frame = async (n: number): Promise<string> => {
      while (frames.length < n) await new Promise<void>((r) => waiters.push(r));
      return frames[n - 1]!;
    };
    try {
      expect(await frame(1)).toBe("event: log\nid: 1\ndata: boot\n\n");
      appendFileSync(log, "GET / 200\n");
      expect(await frame(2)).toBe("event: log\nid: 2\ndata: GET / 200\n\n");
      appendFileSync(log, "POST /x 500\n");
      expect(await frame(3)).toBe("event: log\nid: 3\ndata: POST /x 500\n\n");
      expect(cli.exitCode).toBeNull();
    } finally {
      tail.kill();
    }
    const code = await new Promise<number | null>((r) => cli.on("exit", r));
    expect(code).toBe(0);
  });
});
