// A redis-server of W6's own: a free port on 127.0.0.1, no persistence (--save "" --appendonly
// no), its working directory a fresh temporary one; stopped (and the directory removed) at the
// end of W6, or when the runner exits.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Whether redis-server is on the PATH. */
export function haveRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once the server answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let got = "";
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (b) => {
      got += b.toString("latin1");
      if (got.includes("\r\n")) {
        socket.destroy();
        resolve(got.startsWith("+PONG"));
      }
    });
    socket.on("error", () => resolve(false));
  });
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wasm-sse-w6-redis-"));
  const port = await freePort();
  const proc: ChildProcess = spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--dir", dir, "--daemonize", "no", "--loglevel", "warning",
  ], { stdio: ["ignore", "ignore", "inherit"] });
  let exited = false;
  proc.on("exit", () => (exited = true));
  // The runner's exit takes the server with it (a SIGKILL of the runner cannot: the port and
  // the directory are then left for the machine to reclaim).
  const onExit = (): void => void proc.kill("SIGKILL");
  process.on("exit", onExit);
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (exited) throw new Error(`redis-server on port ${port} exited at start`);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid!,
    async stop() {
      process.off("exit", onExit);
      if (!exited) {
        const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
