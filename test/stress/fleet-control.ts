// Starts the client process (fleet.ts, under tsx) and sends it commands; each command resolves
// with the client process's answer.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command, Reply, Response, Summary } from "./fleet-protocol.js";
import type { StormResult } from "./storm-client.js";

const ENTRY = fileURLToPath(new URL("./fleet.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface Fleet {
  open(c: Omit<Extract<Command, { cmd: "open" }>, "cmd">): Promise<{ opened: number }>;
  wait(c: Omit<Extract<Command, { cmd: "wait" }>, "cmd">): Promise<Summary>;
  summary(mode: Extract<Command, { cmd: "summary" }>["mode"]): Promise<Summary>;
  readAll(mode: Extract<Command, { cmd: "readAll" }>["mode"]): Promise<Summary>;
  destroy(): Promise<{ destroyed: number }>;
  storm(c: Omit<Extract<Command, { cmd: "storm" }>, "cmd">): Promise<StormResult>;
  /** Resolves once every reconnect has its response head or closed: how many got 200. */
  reconnect(c: Omit<Extract<Command, { cmd: "reconnect" }>, "cmd">): Promise<{ reconnected: number }>;
  /** The client process's resident memory is not the server's: kill it and wait. */
  stop(): Promise<void>;
}

export function startFleet(): Fleet {
  const child: ChildProcess = fork(ENTRY, [], { cwd: ROOT, execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("message", (m: Response) => {
    const w = waiting.get(m.seq);
    waiting.delete(m.seq);
    if (m.error !== undefined) w?.reject(new Error(`client process: ${m.error}`));
    else w?.resolve(m.result!);
  });
  child.once("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`client process exited (${code})`));
    waiting.clear();
  });
  const send = <R extends Reply>(command: Command) =>
    new Promise<R>((resolve, reject) => {
      waiting.set(++seq, { resolve: resolve as (r: Reply) => void, reject });
      child.send({ seq, command });
    });
  return {
    open: (c) => send({ cmd: "open", ...c }),
    wait: (c) => send({ cmd: "wait", ...c }),
    summary: (mode) => send({ cmd: "summary", mode }),
    readAll: (mode) => send({ cmd: "readAll", mode }),
    destroy: () => send({ cmd: "destroy" }),
    storm: (c) => send({ cmd: "storm", ...c }),
    reconnect: (c) => send({ cmd: "reconnect", ...c }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
