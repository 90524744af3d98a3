// A child process the runner drives over IPC: typed send, wait for a reply of a given
// type with a deadline, and a stop that kills only this process.
import { fork, type ChildProcess } from "node:child_process";

interface Typed {
  type: string;
}

export class Child<Cmd extends Typed, Reply extends Typed> {
  private readonly proc: ChildProcess;
  private readonly inbox: Reply[] = [];
  private waiter: (() => void) | undefined;
  private exited: string | undefined;

  /** Starts a TypeScript file under node with tsx; `nodeArgs` go to node itself. */
  constructor(readonly name: string, file: string, args: string[] = [], nodeArgs: string[] = []) {
    this.proc = fork(file, args, {
      execArgv: ["--import", "tsx", ...nodeArgs],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.proc.on("message", (msg: Reply) => {
      this.inbox.push(msg);
      this.waiter?.();
    });
    this.proc.on("exit", (code, signal) => {
      this.exited = `${name} exited (${signal ?? code})`;
      this.waiter?.();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  send(msg: Cmd): void {
    this.proc.send(msg);
  }

  /** The next message of this type (an `error` message from the child fails it). */
  async next<T extends Reply["type"]>(type: T, timeoutMs: number): Promise<Extract<Reply, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === "error");
      if (i !== -1) {
        const msg = this.inbox.splice(i, 1)[0]!;
        if (msg.type === "error") throw new Error(`${this.name}: ${(msg as unknown as { message: string }).message}`);
        return msg as Extract<Reply, { type: T }>;
      }
      if (this.exited !== undefined) throw new Error(this.exited);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  async request<T extends Reply["type"]>(msg: Cmd, type: T, timeoutMs: number): Promise<Extract<Reply, { type: T }>> {
    this.send(msg);
    return this.next(type, timeoutMs);
  }

  /** Lets the process end by itself (it exits when the IPC channel closes) and waits for it. */
  async exit(timeoutMs = 30_000): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    await gone;
    clearTimeout(timer);
  }

  /** Ends the process and waits for it to go. */
  async stop(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.proc.kill("SIGKILL");
    await gone;
  }
}
