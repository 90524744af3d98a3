// Server processes (redis-server, prometheus) and their directories, owned by this test process:
// never outliving it. The exit hook covers a normal exit; setpriv's parent-death signal (kept
// across exec, so the pid stays the server's own) covers a killed one, as vitest ends its forks
// with SIGTERM.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

/** Starts `command`, killed with this process; forgotten once it exits. */
export function spawnOwned(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "KILL", command, ...args], options) : spawn(command, args, options);
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** A directory removed when this process exits, unless disowned (removed) first. */
export function ownDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

export function disownDir(dir: string): void {
  dirs.delete(dir);
}
