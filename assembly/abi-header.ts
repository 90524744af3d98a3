// Writes build/wasm_sse.h, the ABI for C hosts, from assembly/abi.ts (as llhttp writes its
// header from one constants file): each constant line becomes `#define SSE_NAME value`, each
// comment a C comment, and the exports' signatures come from README.md's ABI table (which
// test/abi.test.ts checks against the module). Run by `npm run build:wasm`; test/abi.test.ts
// checks the header's values against assembly/abi.ts.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as abi from "./abi.js";

const root = new URL("../", import.meta.url);
const source = readFileSync(new URL("assembly/abi.ts", root), "utf8");
const values: Record<string, number> = abi;

const CONSTANT = /^export const (\w+) = (.+?);(?: \/\/ (.*))?$/;
/** The value as C spells it: hex where the source writes hex (the tape tags), negatives in parentheses. */
function literal(v: number, written: string): string {
  if (/^0x/i.test(written)) return `0x${v.toString(16).toUpperCase().padStart(2, "0")}`;
  return v < 0 ? `(${v})` : String(v);
}

const body: string[] = [];
// Past the file's own opening comment, which is about the TypeScript.
const lines = source.slice(source.indexOf("\n\n") + 2).trimEnd().split("\n");
for (let i = 0; i < lines.length; i++) {
  const line = lines[i]!;
  const c = CONSTANT.exec(line);
  if (c) {
    const [, name, written, comment] = c;
    body.push(`#define SSE_${name} ${literal(values[name]!, written)}${comment ? ` /* ${comment} */` : ""}`);
  } else if (line.startsWith("// ")) {
    const run = [line.slice(3)];
    while (lines[i + 1]?.startsWith("// ")) run.push(lines[++i]!.slice(3));
    body.push(`/* ${run.join("\n * ")} */`);
  } else if (line === "") {
    body.push("");
  } else {
    throw new Error(`assembly/abi.ts: not a constant, comment or blank line: ${line}`);
  }
}

// The table rows "| `name` | `(a: i32, b: f64) -> i32` | … |" of README.md's ABI section.
const readme = readFileSync(new URL("README.md", root), "utf8");
const table = readme.slice(readme.indexOf("## ABI"), readme.indexOf("### Status codes"));
const C_TYPE: Record<string, string> = { i32: "int32_t", f64: "double" };
const exports = [...table.matchAll(/^\| `(\w+)` \| `\(([^)]*)\) -> (\w+)` \|/gm)].map(([, name, params, result]) => {
  const args = params!.split(",").filter(Boolean).map((p) => {
    const [arg, type] = p.split(":").map((s) => s.trim());
    return `${C_TYPE[type!]} ${arg}`;
  });
  return ` *   ${C_TYPE[result!]} ${name}(${args.join(", ") || "void"});`;
});

const header = `/* wasm_sse.h: the ABI of wasm-sse's core (build/sse.wasm, build/sse-mcu.wasm) for C hosts.
 * Generated from assembly/abi.ts by assembly/abi-header.ts (npm run build:wasm): do not edit.
 * README.md ("ABI", "Embedding") says what each call and number means. */
#ifndef WASM_SSE_H
#define WASM_SSE_H

${body.join("\n")}

/* The module's exports, called by name through the runtime (e.g. wasm3's m3_FindFunction and
 * m3_CallV); it imports nothing. Addresses are offsets into its exported memory.
${exports.join("\n")}
 */

#endif /* WASM_SSE_H */
`;
mkdirSync(new URL("build/", root), { recursive: true });
writeFileSync(new URL("build/wasm_sse.h", root), header);
