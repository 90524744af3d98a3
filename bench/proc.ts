// What the kernel says about a process: CPU time (the scheduler's own nanosecond count,
// summed over every thread), resident memory (VmRSS from /proc/<pid>/status) and its peak.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

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
  return statusKiB(pid, "VmRSS") * 1024;
}

/** Where a peak came from: the kernel's high-water mark, or samples taken every PEAK_SAMPLE_MS. */
export type PeakSource = "VmHWM" | "sampled";

const PEAK_SAMPLE_MS = 10;

/**
 * Starts watching a process's peak resident size; `stop` returns the peak since. Writing 5 to
 * /proc/<pid>/clear_refs resets the kernel's own high-water mark (VmHWM) to the current RSS, so
 * no spike between samples is missed; where that is refused, RSS is sampled instead.
 */
export function watchPeakRss(pid: number): { source: PeakSource; stop: () => number } {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return { source: "VmHWM", stop: () => statusKiB(pid, "VmHWM") * 1024 };
  } catch {
    let peak = rssBytes(pid);
    const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), PEAK_SAMPLE_MS);
    return {
      source: "sampled",
      stop: () => {
        clearInterval(timer);
        return Math.max(peak, rssBytes(pid));
      },
    };
  }
}

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Connections the kernel dropped because a listen queue was full, since boot, for every listener
 * in this network namespace (TcpExt ListenOverflows in /proc/net/netstat). A dropped SYN is
 * retried by its client a second later, then three, seven: what a storm's slowest clients wait for.
 */
export function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((l) => l.startsWith("TcpExt:"));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf("ListenOverflows");
  if (i === -1) throw new Error("no TcpExt ListenOverflows in /proc/net/netstat");
  return Number(values[i]);
}
