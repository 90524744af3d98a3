// A real redis-server for the shared-channel tests: 127.0.0.1 only, free ports, its own temporary
// directory (data, log, certificates), never outliving the test process.
import { execFile, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { disownDir, ownDir, spawnOwned } from "./owned-processes.js";

export interface RedisOptions {
  /** The default user's password (requirepass). */
  password?: string;
  /** An extra ACL user with every permission (`on >password ~* &* +@all`); url and cli use it. */
  user?: { name: string; password: string };
  /** Also listen with TLS, on tlsPort, with a certificate for IP 127.0.0.1 from a CA made for this server. */
  tls?: boolean;
  /** appendonly with appendfsync always: every acknowledged write survives kill9. */
  aof?: boolean;
}

export interface RedisServer {
  /** The plain TCP port; with tls too, for plain clients and cli. */
  readonly port: number;
  readonly tlsPort?: number;
  /** redis://user:password@127.0.0.1:port, with the ACL user if any, else `default` and the password. */
  readonly url: string;
  /** rediss://, same credentials, on tlsPort. */
  readonly tlsUrl?: string;
  /** The CA's certificate (PEM): node-redis `socket: { tls: true, ca }`. */
  readonly ca?: string;
  readonly dir: string;
  readonly logFile: string;
  /** The log's last lines (and stderr), to put in a failing test's message. */
  logTail(lines?: number): string;
  /** SIGKILL, and waits for the exit: nothing is flushed (with aof, fsync'd writes are already on disk). */
  kill9(): Promise<void>;
  /**
   * Starts again on the same ports, after a SIGTERM if still running. Without keepData (the
   * default) the AOF and RDB files are deleted first: an empty server.
   */
  restart(o?: { keepData?: boolean }): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** A command with redis-cli on the plain port, authenticated: trimmed stdout; rejects on an error reply. */
  cli(...args: string[]): Promise<string>;
  /** SIGTERM (SIGKILL after 2 s), waits for the exit, removes dir. */
  stop(): Promise<void>;
}

// The directories of test processes that were killed (their exit hook never ran) go now.
const PREFIX = "wasm-sse-redis-";
for (const name of readdirSync(tmpdir())) {
  const owner = name.startsWith(PREFIX) ? Number(name.slice(PREFIX.length).split("-")[0]) : NaN;
  if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const HOST = "127.0.0.1";
const READY_MS = 5000;

export async function startRedis(o: RedisOptions = {}): Promise<RedisServer> {
  for (const s of [o.password, o.user?.name, o.user?.password]) {
    // Every argument after `--user` up to the next `--` is one ACL rule.
    if (s !== undefined && (s === "" || s.startsWith("--") || /\s/.test(s))) throw new TypeError(`unusable credential ${JSON.stringify(s)}`);
  }
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  ownDir(dir);
  try {
    const ca = o.tls ? makeCerts(dir) : undefined;
    // A free port can be taken between its probe and redis binding it: then new ports.
    for (let attempt = 1; ; attempt++) {
      const [port, tlsPort] = await freePorts(o.tls ? 2 : 1);
      const server = new Redis(o, dir, port!, tlsPort, ca);
      if ((await server.launch()) === "up") return server;
      if (attempt === 3) throw new Error(`redis-server could not bind a free port 3 times\n${server.logTail()}`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    disownDir(dir);
    throw error;
  }
}

class Redis implements RedisServer {
  readonly url: string;
  readonly tlsUrl?: string;
  readonly logFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = "";
  #paused = false;
  readonly #args: string[];
  readonly #auth: string[];

  constructor(o: RedisOptions, readonly dir: string, readonly port: number, readonly tlsPort: number | undefined, readonly ca: string | undefined) {
    this.logFile = join(dir, "redis.log");
    const creds = o.user ?? (o.password === undefined ? undefined : { name: "default", password: o.password });
    const at = creds ? `${encodeURIComponent(creds.name)}:${encodeURIComponent(creds.password)}@` : "";
    this.url = `redis://${at}${HOST}:${port}`;
    if (tlsPort !== undefined) this.tlsUrl = `rediss://${at}${HOST}:${tlsPort}`;
    this.#auth = creds ? ["--user", creds.name, "--pass", creds.password, "--no-auth-warning"] : [];
    // Each argv item is one token to redis (it quotes them): an ACL rule is several items, not one string.
    this.#args = [
      "--port", String(port), "--bind", HOST, "--dir", dir, "--daemonize", "no", "--logfile", this.logFile,
      "--save", "", "--appendonly", o.aof ? "yes" : "no",
      ...(o.aof ? ["--appendfsync", "always"] : []),
      ...(o.password !== undefined ? ["--requirepass", o.password] : []),
      ...(o.user ? ["--user", o.user.name, "on", `>${o.user.password}`, "~*", "&*", "+@all"] : []),
      ...(tlsPort !== undefined
        ? ["--tls-port", String(tlsPort), "--tls-cert-file", join(dir, "server.crt"), "--tls-key-file", join(dir, "server.key"),
          "--tls-ca-cert-file", join(dir, "ca.crt"), "--tls-auth-clients", "no"]
        : []),
    ];
  }

  /** Spawns redis-server and waits for PONG: "bind" when a port was taken, else throws on failure. */
  async launch(): Promise<"up" | "bind"> {
    const logFrom = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    this.#stderr = "";
    this.#paused = false;
    const child = spawnOwned("redis-server", this.#args, { stdio: ["ignore", "ignore", "pipe"] });
    let exited = false;
    this.#child = child;
      this.#exited = new Promise<void>((resolve) => {
      const done = () => {
        exited = true;
            resolve();
      };
      child.once("exit", done);
      child.once("error", (error) => {
        this.#stderr += `${error.message}\n`;
        done();
      });
    });
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (this.#stderr += s));
    const deadline = Date.now() + READY_MS;
    let last: unknown;
    while (!exited) {
      try {
        if ((await this.#run(["PING"], 1000)) === "PONG") return "up";
      } catch (error) {
        last = error; // not listening yet, or LOADING its data
      }
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`redis-server did not answer PING within ${READY_MS} ms (${String(last)})\n${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const log = existsSync(this.logFile) ? readFileSync(this.logFile, "utf8").slice(logFrom) : "";
    if (/Address already in use/.test(log)) return "bind";
    throw new Error(`redis-server exited before answering PING (exit ${child.exitCode ?? child.signalCode})\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    const log = existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
    const tail = log.trimEnd().split("\n").slice(-lines).join("\n");
    return `--- ${this.logFile} ---\n${tail}${this.#stderr.trim() ? `\n--- stderr ---\n${this.#stderr.trim()}` : ""}`;
  }

  async kill9(): Promise<void> {
    this.#child?.kill("SIGKILL");
    await this.#exited;
  }

  async restart({ keepData = false }: { keepData?: boolean } = {}): Promise<void> {
    await this.#terminate();
    if (!keepData) {
      for (const f of ["appendonlydir", "appendonly.aof", "dump.rdb"]) rmSync(join(this.dir, f), { recursive: true, force: true });
    }
    // Same ports: a killed redis frees them at once (SO_REUSEADDR), unless another process took one meanwhile.
    for (let attempt = 1; (await this.launch()) === "bind"; attempt++) {
      if (attempt === 10) throw new Error(`redis-server could not bind its ports again\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  pause(): void {
    if (this.#child?.kill("SIGSTOP")) this.#paused = true;
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
    this.#paused = false;
  }

  cli(...args: string[]): Promise<string> {
    return this.#run(args, 10_000);
  }

  async stop(): Promise<void> {
    await this.#terminate();
    rmSync(this.dir, { recursive: true, force: true });
    disownDir(this.dir);
  }

  /** SIGTERM (a stopped process only gets it once continued), SIGKILL after 2 s. */
  async #terminate(): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    if (this.#paused) this.resume();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** redis-cli -e: an error reply (or a failed AUTH) is exit code 1 and stderr, not stdout. */
  #run(args: string[], timeout: number): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile("redis-cli", ["-e", "-h", HOST, "-p", String(this.port), ...this.#auth, ...args], { timeout }, (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cli ${args.join(" ")}: ${stderr.trim() || error.message}`));
        else resolve(stdout.trim());
      });
    });
  }
}

/** Distinct free loopback ports: all bound at once, then released. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, HOST, resolve));
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** A CA, and a server certificate it signs for IP 127.0.0.1 (Node checks IP SANs, not the CN); returns the CA's PEM. */
function makeCerts(dir: string): string {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]; // EC: fast to generate
  const openssl = (args: string[]) => execFileSync("openssl", ["req", "-x509", ...ec, ...args], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  openssl(["-subj", "/CN=wasm-sse test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    "-keyout", "ca.key", "-out", "ca.crt"]);
  openssl(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE",
    "-addext", "extendedKeyUsage=serverAuth", "-CA", "ca.crt", "-CAkey", "ca.key", "-keyout", "server.key", "-out", "server.crt"]);
  return readFileSync(join(dir, "ca.crt"), "utf8");
}
