// The helpers of the shared-channel tests, on real processes: a redis-server whose data outlives
// kill9 only with its AOF, reached over TLS with the CA it made; a round-robin proxy that skips a
// dead backend and cuts every stream at once.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { listen } from "./helpers/listen.js";
import { startRedis } from "./helpers/redis-server.js";
import { roundRobinProxy } from "./helpers/round-robin-proxy.js";
import { selfSigned } from "./helpers/tls.js";

/** redis-server processes on this port (its process title is `redis-server 127.0.0.1:<port>`). */
const running = (port: number) => spawnSync("pgrep", ["-f", `^redis-server 127\\.0\\.0\\.1:${port}$`]).status === 0;

describe("startRedis", () => {
  it("keeps an AOF across kill9, speaks TLS with its CA, pauses, and leaves nothing behind", async () => {
    const redis = await startRedis({ password: "pw", user: { name: "app", password: "apw" }, tls: true, aof: true });
    try {
      expect(redis.url).toBe(`redis://app:apw@127.0.0.1:${redis.port}`);
      expect(running(redis.port)).toBe(true);
      const tls = createClient({ url: redis.tlsUrl, socket: { tls: true, ca: redis.ca! } });
      tls.on("error", () => {});
      await tls.connect();
      const id = await tls.xAdd("s", "*", { f: "v" });
      expect(await redis.cli("ACL", "WHOAMI")).toBe("app");
      expect(await redis.cli("XLEN", "s")).toBe("1");
      await expect(redis.cli("NOPE")).rejects.toThrow(/unknown command/);

      // The default user keeps requirepass beside the ACL user.
      const plain = createClient({ url: `redis://:pw@127.0.0.1:${redis.port}` });
      await plain.connect();
      expect(await plain.sendCommand(["ACL", "WHOAMI"])).toBe("default");
      await plain.quit();
      const stranger = createClient({ url: redis.tlsUrl, socket: { tls: true, ca: selfSigned().cert, reconnectStrategy: false } });
      stranger.on("error", () => {});
      await expect(stranger.connect()).rejects.toThrow();

      await redis.kill9();
      tls.destroy();
      await redis.restart({ keepData: true });
      expect(await redis.cli("XRANGE", "s", "-", "+")).toContain(id);
      await redis.restart();
      expect(await redis.cli("XLEN", "s")).toBe("0");

      redis.pause();
      // The kernel still accepts the connection; the AUTH is never answered (connectTimeout is the TCP connect's only).
      const client = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
      client.on("error", () => {});
      const answered = client.connect().then(() => true, () => true);
      expect(await Promise.race([answered, new Promise((r) => setTimeout(r, 500, false))])).toBe(false);
      client.destroy();
      redis.resume();
      expect(await redis.cli("PING")).toBe("PONG");
      redis.pause(); // stop() must still end it
    } finally {
      await redis.stop();
    }
    expect(existsSync(redis.dir)).toBe(false);
    expect(running(redis.port)).toBe(false);
  });

  it("refuses a credential redis would split or read as an option", async () => {
    await expect(startRedis({ password: "two words" })).rejects.toThrow(/unusable credential/);
    await expect(startRedis({ user: { name: "app", password: "--port" } })).rejects.toThrow(/unusable credential/);
  });
});

describe("roundRobinProxy", () => {
  it("alternates backends, skips a refused one, and cuts every stream", async () => {
    const backend = (name: string) =>
      listen(createServer((req, res) => {
        res.setHeader("content-type", "text/event-stream");
        res.write(`data: ${name}\n\n`);
        if (req.url === "/once") res.end();
      }));
    const a = await backend("a");
    const b = await backend("b");
    const proxy = await roundRobinProxy([a.port, b.port]);
    // Connection: close, so that each request is a new connection to the proxy.
    const once = async () => (await (await fetch(`${proxy.url}/once`, { headers: { connection: "close" } })).text()).trim();
    const stream = async () => {
      // Chunked: a cut is an error, not the end of a body read to the close.
      const body = (await fetch(`${proxy.url}/stream`)).body!.getReader();
      return { first: new TextDecoder().decode((await body.read()).value).trim(), rest: body.read() };
    };
    try {
      expect([await once(), await once(), await once(), await once()]).toEqual(["data: a", "data: b", "data: a", "data: b"]);
      const streams = [await stream(), await stream()];
      expect(streams.map((s) => s.first)).toEqual(["data: a", "data: b"]);
      expect(proxy.cutAll()).toBe(2);
      for (const s of streams) await expect(s.rest).rejects.toThrow();

      await b.close();
      expect([await once(), await once(), await once()]).toEqual(["data: a", "data: a", "data: a"]);
      proxy.setBackends([b.port]);
      await expect(fetch(`${proxy.url}/once`)).rejects.toThrow(); // no backend left: the client is closed
      proxy.setBackends([a.port]);
      const last = await stream();
      expect(last.first).toBe("data: a");
      await proxy.close();
      await expect(last.rest).rejects.toThrow();
    } finally {
      await proxy.close();
      await a.close();
    }
  });
});
