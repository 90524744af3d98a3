// What the kernel says about a process: CPU time (the scheduler's own nanosecond count,
// summed over every thread) and resident memory (VmRSS from /proc/<pid>/status).
import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU seconds the process's threads have run so far: the first field of
 * /proc/<pid>/task/<tid>/schedstat (sum_exec_runtime, in ns). utime + stime in /proc/<pid>/stat
 * come in 10 ms ticks sampled at each timer interrupt, too coarse for a case that uses 0.1 s;
 * the scheduler counts every nanosecond. A thread that exits takes its count with it, which is
 * fine here: Node's threads (main, libuv pool, V8 platform workers) live as long as the process.
 */
export function cpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return ns / 1e9;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
