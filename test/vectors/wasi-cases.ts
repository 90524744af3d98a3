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

/** Runs of repeated text or bytes: ["abc", 3] is "abcabcabc". */
type Input = [string | Uint8Array, number][];
const bytesOf = (t: string | Uint8Array): Uint8Array => (typeof t === "string" ? utf8(t) : t);
const text = (input: Input): Uint8Array => concat(input.flatMap(([t, n]) => Array<Uint8Array>(n).fill(bytesOf(t))));
const runs = (input: Input): [string, number][] => input.map(([t, n]) => [toHex(bytesOf(t)), n]);

interface Flags {
  event?: string;
  json?: boolean;
  /** A bigint past 2^53: the command counts ids exactly, in 64 bits. */
  idStart?: number | bigint;
  retry?: number;
}

/** Lines as the command reads them: split on LF, a trailing CR dropped, a last unterminated line kept. */
function inputLines(input: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= input.length; i++) {
    if (i < input.length && input[i] !== 0x0a) continue;
    if (i === input.length && start === i) break;
    const end = i > start && input[i - 1] === 0x0d ? i - 1 : i;
    parts.push(input.subarray(start, end));
    start = i + 1;
  }
  return parts;
}

/** The stream the spec gives for these lines, and what a reader must see in it. */
function expected(input: Uint8Array, f: Flags): { bytes: Uint8Array; meant: Observed[] } {
  const frames: Uint8Array[] = [];
  const meant: Observed[] = [];
  if (f.retry !== undefined) {
    frames.push(frame({ retry: f.retry }));
    meant.push({ kind: "retry", ms: f.retry });
  }
  inputLines(input).forEach((line, i) => {
    const id = f.idStart === undefined ? undefined : String(BigInt(f.idStart) + BigInt(i));
    // Under --json the line is read as TextDecoder reads it (ill-formed UTF-8 as U+FFFD): valid JSON text always.
    const data = f.json ? JSON.stringify({ line: new TextDecoder().decode(line) }) : "";
    frames.push(frame({
      ...(f.event !== undefined ? { event: utf8(f.event) } : {}),
      ...(id !== undefined ? { id: utf8(id) } : {}),
      data: f.json ? { json: data } : { text: line },
    }));
    const text = f.json ? data : lines(line).map((l) => new TextDecoder().decode(l)).join("\n");
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

function ok(name: string, input: string | Uint8Array | Input, f: Flags, args = argsOf(f)): WasiCase {
  const stdin: Input = typeof input === "string" || input instanceof Uint8Array ? [[input, 1]] : input;
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
/**
 * Ill-formed UTF-8 of every kind, a line each (with well-formed text around): a lone continuation
 * byte, an overlong form, a surrogate, past U+10FFFF, FE/FF, sequences cut short by the next byte,
 * by CR, by a line's end and by the input's end.
 */
const illFormed = Uint8Array.from([
  0x61, 0x80, 0x62, 0x0a, // a, lone continuation, b
  0xc0, 0xaf, 0x22, 0x0a, // overlong '/', then '"'
  0xe0, 0x80, 0xaf, 0x0a, // overlong 3-byte
  0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf, 0x0a, // surrogates
  0xf4, 0x90, 0x80, 0x80, 0xf5, 0x0a, // past U+10FFFF, F5
  0xfe, 0xff, 0xc3, 0xbc, 0x0a, // FE FF, then ü
  0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x8e, 0x5c, 0x0a, // cut short by 'A', by a backslash
  0xe2, 0x82, 0x0d, 0x0a, // cut short by CR (dropped with the LF)
  0xc3, 0x0d, 0x78, 0x0a, // cut short by a bare CR
  0xf0, 0x9f, 0x8e, 0x0a, // cut short by the line's end
  0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x8e, 0x89, 0xf0, 0x9f, 0x8e, // ✓ 🎉, then cut short by the input's end
]);

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
    // Under --json each maximal ill-formed subsequence becomes U+FFFD, as TextDecoder reads it:
    // the data line is always valid JSON text. Without --json the bytes go through as they are.
    ok("json-ill-formed-utf8", illFormed, { json: true }),
    ok("text-ill-formed-utf8", illFormed, {}),
    ok("json-ill-formed-longest-line", [[Uint8Array.of(0xff), 65535], ["\n", 1]], { json: true }),
    ok("json-cut-short-longest-line", [[Uint8Array.of(0xf0, 0x9f, 0x8e), 21845], ["\n", 1]], { json: true }),
    // A trailing CR is part of the line read: 65534 bytes and CR fit, 65535 and CR do not.
    ok("longest-line-with-crlf", [["w", 65534], ["\r\n", 1]], {}),
    // 64 arguments, argv[0] included, is the most the command takes.
    ok("64-arguments", LOG, { json: true }, Array<string>(63).fill("--json")),
    // --id-start is at most 2^53-1; ids count on exactly (64-bit integers, written as digits).
    ok("ids-past-2^53", LOG, { idStart: 9007199254740991n }),
    refused("unknown-flag", ["--bogus"], "sse-wasi: unknown argument --bogus\n"),
    refused("missing-value", ["--event"], "sse-wasi: a value must follow --event\n"),
    refused("id-not-a-number", ["--id-start", "abc"], "sse-wasi: expects a whole number of at most 2^53-1, not abc\n"),
    refused("retry-negative", ["--retry", "-1"], "sse-wasi: expects a whole number of at most 2^53-1, not -1\n"),
    refused("retry-2^53", ["--retry", "9007199254740992"], "sse-wasi: expects a whole number of at most 2^53-1, not 9007199254740992\n"),
    refused("id-start-2^53", ["--id-start", "9007199254740992"], "sse-wasi: expects a whole number of at most 2^53-1, not 9007199254740992\n"),
    refused("65-arguments", Array<string>(64).fill("--json"), "sse-wasi: too many or too long arguments\n"),
    refused("line-with-cr-too-long", [], "sse-wasi: a line is longer than 65535 bytes\n", 65, [["w", 65535], ["\r\n", 1]]),
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
