// Runs build/sse-wasi.wasm (lines on stdin → an event stream on stdout) under Node's
// node:wasi, on file descriptors the caller gives: a pipe, a file, or the process's own.
// The module imports only wasi_snapshot_preview1 (fd_read, fd_write, args, proc_exit), so
// the host grants nothing else: no preopened directories, no environment, no sockets.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { own } from "../common/own.js";

export interface SseWasiOptions {
  /** The command's flags: --event NAME, --json, --id-start N, --retry MS. */
  args?: string[];
  /** Descriptors for the module's stdin, stdout and stderr (default: this process's). */
  stdin?: number;
  stdout?: number;
  stderr?: number;
  /** The module (default: build/sse-wasi.wasm next to this package). */
  module?: WebAssembly.Module;
}

const defaultPath = new URL("../../build/sse-wasi.wasm", import.meta.url);
let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles build/sse-wasi.wasm once per process. */
export function sseWasiModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(defaultPath).then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

/**
 * Runs the command to completion and returns its exit status. node:wasi reads and writes
 * synchronously, so this blocks the event loop until stdin ends: give it a worker or a
 * child process when the host has other work to do.
 */
export async function runSseWasi(given: SseWasiOptions = {}): Promise<number> {
  const options = own(given);
  const wasi = new WASI({
    version: "preview1",
    args: ["sse-wasi", ...(options.args ?? [])],
    env: {},
    stdin: options.stdin ?? 0,
    stdout: options.stdout ?? 1,
    stderr: options.stderr ?? 2,
    returnOnExit: true,
  });
  const module = options.module ?? (await sseWasiModule());
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject() as WebAssembly.Imports);
  return wasi.start(instance);
}
