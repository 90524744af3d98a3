// Bun, Deno and Node 22, each as a real server process (test/runtimes/server.ts) driven over real
// sockets from this (Node 20) process. Proven for each runtime:
// - sseResponse in a Hono app served by the runtime's own server (Bun.serve, Deno.serve; on
//   Node 22 @hono/node-server), and withSse on the runtime's node:http, frame the seed's counter,
//   a named event, an id and a JSON record byte for byte as Node 20 does (EXPECTED, checked on
//   Node 20 first).
// - A client that disconnects cancels the handler on both hosts: its pending sleep rejects with
//   CancelledError, sse.signal aborts with one, its `finally` runs (reported on the child's
//   stdout), whether the handler was sending or idle. On sseResponse the request's AbortSignal
//   alone and the body's cancel alone each suffice (both fire on Bun 1.4, Deno 2.9 and Node 22).
// - A Channel with a history replays what a client missed when it reconnects with
//   Last-Event-ID, then goes live, on both hosts.
// - Where the runtimes differ from Node, stated as asserted facts: Bun.serve sends the response
//   head only with the body's first bytes (oven-sh/bun#33660), and its idleTimeout (default
//   10 s) cuts a quiet stream unless keep-alives come more often.
// Bun runs the sources as they are; Deno with --unstable-sloppy-imports (their `.js` specifiers
// name `.ts` files) and --node-modules-dir=manual (hono from node_modules); Node 22 (the binary
// test/helpers/node22.ts caches, installed on first use) with --import tsx, as Node 20 runs them.
// Each child prints its ports and what its handlers saw as JSON lines; it exits when its stdin
// closes.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sseResponse, withSse } from "../index.js";
import { reader, until } from "./helpers/events.js";
import { serve } from "./helpers/listen.js";
import { NODE22, node22 } from "./helpers/node22.js";
import { rawGet, type RawClient } from "./helpers/raw.js";
import { counter, RECORD } from "./runtimes/script.js";
import type { Ending } from "./runtimes/server.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXPECTED =
  Array.from({ length: 10 }, (_, i) => `data: {"counter":${i}}\n\n`).join("") +
  "event: greeting\ndata: hello\n\n" +
  "id: 42\ndata: with an id\n\n" +
  `event: record\nid: r-1\ndata: ${JSON.stringify(RECORD)}\n\n` +
  "event: comment\ndata: end\n\n";

const utf8 = (bytes: ArrayBuffer) => new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
const ACCEPT = { accept: "text/event-stream" };

/** Rejects after `ms`: every wait here is bounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function bodyOf(url: string): Promise<{ response: Response; text: string }> {
  const response = await within(fetch(url, { headers: ACCEPT }), 10_000, `the response of ${url}`);
  return { response, text: utf8(await within(response.arrayBuffer(), 10_000, `the body of ${url}`)) };
}

/** A fetch stream read with eventsource-parser until `close()`. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await within(fetch(url, { headers: { ...ACCEPT, ...headers }, signal: abort.signal }), 10_000, `the head of ${url}`);
  const stream = reader();
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) stream.feed(chunk);
    } catch {} // aborted
  })();
  return { response, stream, close: () => abort.abort() };
}

type Line = { ready?: Ports; started?: string; ending?: Ending };
interface Ports {
  runtime: string;
  web: number;
  node: number;
  idle5?: number;
}

/** The server under one runtime: its stdout lines, in order. */
class Child {
  readonly lines: Line[] = [];
  private stderr = "";
  private exited: string | undefined;

  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on("line", (line) => this.lines.push(JSON.parse(line) as Line));
    proc.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    proc.once("exit", (code, signal) => (this.exited = `exited (${code ?? signal})`));
    proc.once("error", (error) => (this.exited = `failed to start (${error.message})`));
  }

  /** The first line `pick` accepts; throws after `ms` with what the child said. */
  async line<T>(pick: (line: Line) => T | undefined, what: string, ms = 5000): Promise<T> {
    let found: T | undefined;
    try {
      await until(() => this.lines.some((l) => (found = pick(l)) !== undefined) || this.exited !== undefined, ms, what);
    } catch (error) {
      throw new Error(`${(error as Error).message}; stdout: ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`);
    }
    if (found === undefined) throw new Error(`the server ${this.exited} before ${what}; stderr: ${this.stderr}`);
    return found;
  }

  started(name: string): Promise<string> {
    return this.line((l) => (l.started === name ? name : undefined), `${name} to start`);
  }

  ending(name: string, ms = 5000): Promise<Ending> {
    return this.line((l) => (l.ending?.name === name ? l.ending : undefined), `${name} to be cancelled`, ms);
  }

  hasEnded(name: string): boolean {
    return this.lines.some((l) => l.ending?.name === name);
  }

  async stop(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
    this.proc.stdin!.end(); // the server exits when its stdin closes
    await within(gone, 5000, "the server to exit").catch(() => {
      this.proc.kill("SIGKILL");
      return within(gone, 5000, "the server to die");
    });
  }
}

const CANCELLED: Omit<Ending, "name"> = { error: "CancelledError", signalReason: "CancelledError", finallyRan: true };

it("on Node, withSse and sseResponse frame the counter, a named event, an id and a record as EXPECTED", async () => {
  const running = await serve(withSse((_req, sse) => counter(sse), { keepAliveMs: 0 }));
  try {
    expect((await bodyOf(running.url)).text).toBe(EXPECTED);
  } finally {
    await running.close();
  }
  const response = sseResponse(new Request("http://x/", { headers: ACCEPT }), counter, { keepAliveMs: 0 });
  expect(utf8(await response.arrayBuffer())).toBe(EXPECTED);
});

const RUNTIMES = [
  { name: "bun", server: "Bun.serve", runtime: /^bun \d/, command: () => "node_modules/.bin/bun", args: ["test/runtimes/server.ts"] },
  { name: "deno", server: "Deno.serve", runtime: /^deno \d/, command: () => "node_modules/.bin/deno", args: ["run", "--unstable-sloppy-imports", "--node-modules-dir=manual", "--no-lock", "-A", "test/runtimes/server.ts"] },
  { name: "node22", server: "@hono/node-server", runtime: new RegExp(`^node ${NODE22.replaceAll(".", "\\.")}$`), command: node22, args: ["--import", "tsx", "test/runtimes/server.ts"] },
] as const;

for (const rt of RUNTIMES) {
  describe(`${rt.name}`, () => {
    let child: Child;
    let ports: Ports;
    const url = (host: "web" | "node" | "idle5", path: string) => `http://127.0.0.1:${ports[host]}${path}`;

    beforeAll(async () => {
      const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
      child = new Child(spawn(rt.command(), [...rt.args], { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] }));
      ports = await child.line((l) => l.ready, `${rt.name} to start the server`, 30_000);
      expect(ports.runtime).toMatch(rt.runtime);
    }, 180_000); // node22() may install Node 22 first
    afterAll(() => child?.stop());

    it(`sseResponse in Hono on ${rt.server}: the counter, a named event, an id and a record, byte for byte as on Node`, async () => {
      const { response, text } = await bodyOf(url("web", "/counter"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/event-stream");
      expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
      expect(text).toBe(EXPECTED);
    });

    it(`withSse on ${rt.name}'s node:http: the same bytes`, async () => {
      const { response, text } = await bodyOf(url("node", "/counter"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/event-stream");
      expect(text).toBe(EXPECTED);
    });

    /** Opens /endless, cuts the client once it runs (and, if ticking, after two ticks), and returns how the handler ended. */
    async function disconnect(host: "web" | "node", name: string, query: string): Promise<{ ending: Ending; client: RawClient }> {
      const client = await rawGet(ports[host], `/endless?name=${name}&${query}`);
      await child.started(name);
      if (query.includes("tick=20")) await until(() => client.text().includes('data: {"tick":1}'), 5000, `${name}'s ticks`);
      expect(child.hasEnded(name)).toBe(false);
      client.socket.destroy();
      return { ending: await child.ending(name), client };
    }

    for (const host of ["web", "node"] as const) {
      const api = host === "web" ? `sseResponse on ${rt.server}` : `withSse on node:http`;
      it(`${api}: a client that disconnects cancels the handler (CancelledError, sse.signal, finally), while sending and while idle`, async () => {
        for (const [kind, query] of [["sending", "tick=20"], ["idle", "tick=0"]]) {
          const name = `${rt.name}-${host}-${kind}`;
          expect((await disconnect(host, name, query)).ending).toEqual({ name, ...CANCELLED });
        }
      });
    }

    it(`sseResponse on ${rt.server}: the request's AbortSignal alone, and the body's cancel alone, each cancel the handler`, async () => {
      for (const only of ["signal", "cancel"]) {
        const name = `${rt.name}-only-${only}`;
        expect((await disconnect("web", name, `tick=0&only=${only}`)).ending).toEqual({ name, ...CANCELLED });
      }
    });

    for (const host of ["web", "node"] as const) {
      it(`replay on ${host === "web" ? `sseResponse (${rt.server})` : "withSse (node:http)"}: a client back with Last-Event-ID gets what it missed, then live events`, async () => {
        const publish = async (id: string) => {
          const response = await fetch(url("web", `/publish?host=${host}&id=${id}&data=${id}`));
          return ((await response.json()) as { delivered: number }).delivered;
        };
        const size = async () => ((await (await fetch(url("web", `/size?host=${host}`))).json()) as { size: number }).size;
        const first = await openStream(url(host, "/channel"));
        await until(() => first.stream.items.some((i) => i.kind === "retry"), 5000, "the first subscription");
        expect(await publish(`${host}-1`)).toBe(1);
        expect(await publish(`${host}-2`)).toBe(1);
        await until(() => first.stream.events().length === 2, 5000, "two live events");
        first.close();
        // Gone from the channel: the runtime told the host that the client left.
        const end = Date.now() + 5000;
        while ((await size()) !== 0) {
          if (Date.now() > end) throw new Error("the subscriber never left the channel");
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(await publish(`${host}-3`)).toBe(0);
        expect(await publish(`${host}-4`)).toBe(0);
        const again = await openStream(url(host, "/channel"), { "Last-Event-ID": `${host}-2` });
        await until(() => again.stream.events().length === 2, 5000, "the replay");
        expect(await publish(`${host}-5`)).toBe(1);
        await until(() => again.stream.events().length === 3, 5000, "a live event after the replay");
        again.close();
        const ids = [3, 4, 5].map((i) => `${host}-${i}`);
        expect(again.stream.events()).toEqual(ids.map((id) => ({ kind: "event", event: "message", data: id, id })));
        expect(again.stream.items[0]).toEqual({ kind: "retry", ms: 1000 });
      });
    }

    for (const host of ["web", "node"] as const) {
      // Bun.serve holds the head of a streamed Response until the body's first bytes
      // (oven-sh/bun#33660): a quiet stream's fetch() does not resolve, EventSource fires no
      // `open`. The first event (or a comment, or a Channel's retry) sends it.
      const held = rt.name === "bun" && host === "web";
      const api = host === "web" ? `sseResponse on ${rt.server}` : `withSse on node:http`;
      it(`${api}: the response head goes out ${held ? "only with the first event (oven-sh/bun#33660)" : "before the first event"}`, async () => {
        const name = `${rt.name}-${host}-head`;
        const client = await rawGet(ports[host], `/endless?name=${name}&tick=2000`);
        try {
          await child.started(name);
          const head = () => client.text().includes("\r\n\r\n");
          if (held) {
            await new Promise((r) => setTimeout(r, 1000));
            expect(client.text()).toMatch(/^HTTP\/1\.1 200/);
            expect(head()).toBe(false);
            await until(head, 5000, "the head with the first event");
            expect(client.text()).toContain('data: {"tick":0}');
          } else {
            await until(head, 1000, "the response head");
            expect(client.text()).not.toContain("data:");
          }
        } finally {
          client.socket.destroy();
        }
        expect(await child.ending(name)).toEqual({ name, ...CANCELLED });
      });
    }

    if (rt.name === "bun") {
      it("Bun.serve's idleTimeout cuts a quiet stream (the handler is cancelled); keep-alives more frequent than it keep one open", async () => {
        // The server on ports.idle5 has idleTimeout: 5; Bun counts it in 4 s ticks, so silence is cut after 4–8 s.
        const quiet = await rawGet(ports.idle5!, "/endless?name=bun-quiet&tick=0&ka=0");
        const kept = await rawGet(ports.idle5!, "/endless?name=bun-kept&tick=0&ka=1000");
        try {
          await child.started("bun-quiet");
          await child.started("bun-kept");
          const since = Date.now();
          expect(await child.ending("bun-quiet", 15_000)).toEqual({ name: "bun-quiet", ...CANCELLED });
          expect(Date.now() - since).toBeGreaterThan(3000);
          await within(quiet.closed, 2000, "the quiet stream's socket to close");
          expect(child.hasEnded("bun-kept")).toBe(false);
          expect(kept.chunks().filter((c) => c === ":\n").length).toBeGreaterThanOrEqual(3);
        } finally {
          quiet.socket.destroy();
          kept.socket.destroy();
        }
        expect(await child.ending("bun-kept")).toEqual({ name: "bun-kept", ...CANCELLED });
      });
    }
  });
}
