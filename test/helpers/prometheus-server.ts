// A real Prometheus server (Debian's /usr/bin/prometheus) for the metrics tests: 127.0.0.1 only,
// a free port, its own temporary directory (config, TSDB, log), never outliving the test process.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disownDir, ownDir, spawnOwned } from "./owned-processes.js";

export interface PrometheusServer {
  /** http://127.0.0.1:port */
  readonly url: string;
  readonly dir: string;
  /** GET /api/v1/<path>: its `data`, or throws with the error Prometheus gave. */
  api<T = unknown>(path: string): Promise<T>;
  /** The instant vector of a PromQL query: [labels without __name__ but with it in `name`, value]. */
  query(promql: string): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>>;
  logTail(lines?: number): string;
  /** SIGTERM (SIGKILL after 5 s), waits for the exit, removes dir. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port targets of one job, scraped at `metrics_path`. */
  targets: string[];
  job?: string;
  metricsPath?: string;
  /** Prometheus accepts durations down to 1 ms; 200 ms keeps a test short without loading the machine. */
  scrapeIntervalMs?: number;
}

const READY_MS = 20_000;

export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), `wasm-sse-prometheus-${process.pid}-`));
  ownDir(dir);
  const interval = `${o.scrapeIntervalMs ?? 200}ms`;
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    "scrape_configs:",
    `  - job_name: ${JSON.stringify(o.job ?? "wasm-sse")}`,
    `    metrics_path: ${JSON.stringify(o.metricsPath ?? "/metrics")}`,
    "    static_configs:",
    `      - targets: ${JSON.stringify(o.targets)}`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  try {
    // A free port can be taken between its probe and Prometheus binding it: then another.
    for (let attempt = 1; ; attempt++) {
      const server = await launch(dir, await freePort());
      if (server !== "bind") return server;
      if (attempt === 3) throw new Error(`prometheus could not bind a free port 3 times\n${tail(join(dir, "prometheus.log"))}`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    disownDir(dir);
    throw error;
  }
}

async function launch(dir: string, port: number): Promise<PrometheusServer | "bind"> {
  const logFile = join(dir, "prometheus.log");
  const args = [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=info",
  ];
  const child = spawnOwned("prometheus", args, { stdio: ["ignore", "ignore", "pipe"], cwd: dir });
  let log = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    log += s;
    writeFileSync(logFile, log);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const done = () => {
      exited = true;
        resolve();
    };
    child.once("exit", done);
    child.once("error", (error) => {
      log += `${error.message}\n`;
      done();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (exited) {
      if (/address already in use/.test(log)) return "bind";
      throw new Error(`prometheus exited before it was ready (exit ${child.exitCode ?? child.signalCode})\n${tail(logFile)}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exit;
      throw new Error(`prometheus was not ready within ${READY_MS} ms\n${tail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}/api/v1/${path}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { status: string; data?: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data as T;
  };
  return {
    url,
    dir,
    api,
    async query(promql) {
      const data = await api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`query?query=${encodeURIComponent(promql)}`);
      if (data.resultType !== "vector") throw new Error(`not an instant vector: ${data.resultType}`);
      return data.result.map(({ metric, value }) => {
        const { __name__: name = "", ...labels } = metric;
        return { name, labels, value: Number(value[1]) };
      });
    },
    logTail: (lines = 30) => tail(logFile, lines),
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      disownDir(dir);
    },
  };
}

function tail(file: string, lines = 30): string {
  const log = existsSync(file) ? readFileSync(file, "utf8") : "";
  return `--- ${file} ---\n${log.trimEnd().split("\n").slice(-lines).join("\n")}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
