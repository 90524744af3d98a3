// Cases for the WASI command (build/sse-wasi.wasm): flags, stdin, and the exact stdout the
// spec gives for them, written by the reference framer (never by running the module) and
// read back through eventsource-parser. test/wasi.test.ts runs them under node:wasi and
// test/hosts/test_wasi.py under Wasmtime: same files, same bytes.
// npx tsx test/vectors/wasi-cases.ts writes test/vectors/wasi/cases.json.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { toHex } from "./format.js";
import { concat, frame, lines, observe, utf8, type Observed } from "./reference.js";

export interface WasiCase {
  name: string;
  args: string[];
  /** stdin as runs: each [hex, n] stands for those bytes n times over. */
  stdin: [string, number][];
  /** stdout's bytes (hex) — or for long output its SHA-256 and length. */
  stdout?: string;
  stdout_sha256?: string;
  stdout_len?: number;
  stderr: string;
  exit: number;
}

const INLINE_MAX = 4096;

function output(bytes: Uint8Array): Pick<WasiCase, "stdout" | "stdout_sha256" | "stdout_len"> {
  if (bytes.length <= INLINE_MAX) return { stdout: toHex(bytes) };
  return { stdout_sha256: createHash("sha256").update(bytes).digest("hex"), stdout_len: bytes.length };
}

/** Runs of repeated text: ["abc", 3] is "abcabcabc". */
type Input = [string, number][];
const text = (input: Input): string => input.map(([t, n]) => t.repeat(n)).join("");
const runs = (input: Input): [string, number][] => input.map(([t, n]) => [toHex(utf8(t)), n]);

interface Flags {
  event?: string;
  json?: boolean;
  idStart?: number;
  retry?: number;
}

/** Lines as the command reads them: split on LF, a trailing CR dropped, a last unterminated line kept. */
function inputLines(input: string): string[] {
  const parts = input.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

/** The stream the spec gives for these lines, and what a reader must see in it. */
function expected(input: string, f: Flags): { bytes: Uint8Array; meant: Observed[] } {
  const frames: Uint8Array[] = [];
  const meant: Observed[] = [];
  if (f.retry !== undefined) {
    frames.push(frame({ retry: f.retry }));
    meant.push({ kind: "retry", ms: f.retry });
  }
  inputLines(input).forEach((line, i) => {
    const id = f.idStart === undefined ? undefined : String(f.idStart + i);
    const data = f.json ? JSON.stringify({ line }) : line;
    frames.push(frame({
      ...(f.event !== undefined ? { event: utf8(f.event) } : {}),
      ...(id !== undefined ? { id: utf8(id) } : {}),
      data: f.json ? { json: data } : { text: utf8(line) },
    }));
    const text = f.json ? data : lines(utf8(line)).map((l) => new TextDecoder().decode(l)).join("\n");
    meant.push({ kind: "event", event: f.event || "message", id, data: text });
  });
  return { bytes: concat(frames), meant };
}

function argsOf(f: Flags): string[] {
  return [
    ...(f.event !== undefined ? ["--event", f.event] : []),
    ...(f.json ? ["--json"] : []),
    ...(f.idStart !== undefined ? ["--id-start", String(f.idStart)] : []),
    ...(f.retry !== undefined ? ["--retry", String(f.retry)] : []),
  ];
}

function ok(name: string, input: string | Input, f: Flags, args = argsOf(f)): WasiCase {
  const stdin: Input = typeof input === "string" ? [[input, 1]] : input;
  const { bytes, meant } = expected(text(stdin), f);
  for (const chunks of [[bytes.length || 1], [1], [5, 2]]) {
    if (!isDeepStrictEqual(observe(bytes, chunks), meant)) throw new Error(`${name}: the expected stream does not read back as meant`);
  }
  return { name, args, stdin: runs(stdin), ...output(bytes), stderr: "", exit: 0 };
}

function refused(name: string, args: string[], stderr: string, exit = 2, input: Input = [["x\n", 1]], stdout: Uint8Array = new Uint8Array(0)): WasiCase {
  return { name, args, stdin: runs(input), ...output(stdout), stderr, exit };
}

const LOG = "GET /a 200\nPOST /b 500\nGET /c 404\n";
const longLine: Input = [["w", 65535], ["\n", 1]];

export function wasiCases(): WasiCase[] {
  const cases = [
    ok("plain", LOG, {}),
    ok("event", LOG, { event: "log" }),
    ok("empty-event-name", LOG, { event: "" }),
    ok("json", 'say "hi"\\ \ttab\nünï ✓ 🎉\n</script>\n', { json: true }),
    ok("ids-from-0", LOG, { idStart: 0 }),
    ok("ids-from-41", LOG, { idStart: 41 }),
    ok("ids-near-2^53", LOG, { idStart: 9007199254740990 }),
    ok("retry", LOG, { retry: 3000 }),
    ok("retry-only-empty-input", "", { retry: 0 }),
    ok("all-flags", LOG, { event: "access", json: true, idStart: 1, retry: 1500 }),
    ok("crlf-lines", "one\r\ntwo\r\n", { event: "e" }),
    ok("empty-lines", "\n\nx\n\n", {}),
    ok("bare-cr-text", "progress 10%\rprogress 90%\n", {}),
    ok("bare-cr-json", "progress 10%\rprogress 90%\n", { json: true }),
    ok("no-final-lf", "first\nsecond", { idStart: 5 }),
    ok("empty-input", "", { event: "log", json: true }),
    ok("fake-fields", "data: x\nevent: y\nid: z\n: c\n", {}),
    ok("longest-line", longLine, { json: true }),
    // Thousands of events per read fill the outbound space: the command writes it out and goes on.
    ok("fills-outbound-space", [["\n", 3000]], { event: "e".repeat(1000), idStart: 1 }),
    ok("separator", LOG, { event: "log" }, ["--", "--event", "log"]),
    refused("unknown-flag", ["--bogus"], "sse-wasi: unknown argument --bogus\n"),
    refused("missing-value", ["--event"], "sse-wasi: a value must follow --event\n"),
    refused("id-not-a-number", ["--id-start", "abc"], "sse-wasi: expects a whole number of at most 2^53-1, not abc\n"),
    refused("retry-negative", ["--retry", "-1"], "sse-wasi: expects a whole number of at most 2^53-1, not -1\n"),
    refused("retry-2^53", ["--retry", "9007199254740992"], "sse-wasi: expects a whole number of at most 2^53-1, not 9007199254740992\n"),
    refused("event-with-lf", ["--event", "a\nb"], "sse-wasi: an event name is one line of at most 1024 bytes: a\nb\n"),
    refused("event-too-long", ["--event", "n".repeat(1025)], `sse-wasi: an event name is one line of at most 1024 bytes: ${"n".repeat(1025)}\n`),
    // Lines before the over-long one are written out; then the command stops with EX_DATAERR.
    refused("line-too-long", [], "sse-wasi: a line is longer than 65535 bytes\n", 65, [["ok\n", 1], ["w", 65536], ["\n", 1]], frame({ data: { text: utf8("ok") } })),
    {
      name: "help", args: ["--help"], stdin: [], exit: 0, stderr: "",
      stdout: toHex(utf8("usage: sse-wasi [--event NAME] [--json] [--id-start N] [--retry MS] < lines > event-stream\n")),
    },
  ];
  return cases;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = join(dirname(fileURLToPath(import.meta.url)), "wasi", "cases.json");
  mkdirSync(dirname(out), { recursive: true });
  const cases = wasiCases();
  writeFileSync(out, JSON.stringify({ cases }) + "\n");
  console.log(`${cases.length} WASI cases written to ${out}`);
}
