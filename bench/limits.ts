// Open-file headroom: every connection is a descriptor in the client and one in the server.
// Children inherit the runner's limits. For W3 the runner raises its limit by re-running itself
// under `ulimit -n`, or scales W3 down and says so; W7 raises nothing and stops if the hard
// limit is too low (a reconnect storm at a scaled-down count would be another case).
import { execFileSync, spawnSync } from "node:child_process";

const REEXEC_MARK = "WASM_SSE_BENCH_ULIMIT";
/** Descriptors beyond the connections themselves: listeners, IPC, pipes, files. */
const SPARE = 1024;
/** The shell's status when `ulimit -n` is refused (no bench run returns it). */
const CANNOT_RAISE = 86;

function limit(which: "S" | "H"): number {
  const out = execFileSync("sh", ["-c", `ulimit -${which}n`], { encoding: "utf8" }).trim();
  return out === "unlimited" ? Infinity : Number(out);
}

/** Throws unless each process may hold `connections` sockets and the spare descriptors (Node raises its soft limit to the hard one as it starts). */
export function requireOpenFiles(connections: number, what: string): void {
  const needed = connections + SPARE;
  const hard = limit("H");
  if (hard < needed) {
    throw new Error(`${what} needs ${needed} open files per process (${connections} connections and ${SPARE} spare), but the hard limit (ulimit -Hn) is ${hard}: raise it, or run --quick`);
  }
}

/**
 * Returns how many W3 connections this process can hold. Node raises its soft limit to the
 * hard one as it starts; if that is still too low, this process is re-run under a higher
 * `ulimit -n` (root may raise the hard limit too) and exits with its status, never returning;
 * if even that is refused, W3 is scaled to what the limit allows.
 */
export function w3Headroom(connections: number): number {
  const needed = connections + SPARE;
  const soft = limit("S");
  if (soft >= needed) return connections;
  if (process.env[REEXEC_MARK] === undefined) {
    const args = [...process.execArgv, ...process.argv.slice(1)];
    const r = spawnSync("sh", ["-c", `ulimit -n ${needed} 2>/dev/null || exit ${CANNOT_RAISE}; exec "$0" "$@"`, process.execPath, ...args], {
      stdio: "inherit",
      env: { ...process.env, [REEXEC_MARK]: String(needed) },
    });
    if (r.status !== CANNOT_RAISE) process.exit(r.status ?? 1);
  }
  return Math.max(100, soft - SPARE);
}
