// Disconnects reach the handler as asyncio's CancelledError does in Microdot: at once, both
// while it sleeps and while it waits on backpressure, and the core slot is freed.
import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, withSse, type Sse } from "../host/index.js";
import { readAll, reader, until } from "./helpers/events.js";
import { serve, type Running } from "./helpers/listen.js";
import { rawGet } from "./helpers/raw.js";

let running: Running | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** What a handler saw: when its catch and finally ran, and what it caught. */
interface Trace {
  sse?: Sse;
  caught?: unknown;
  catchAt?: number;
  finallyAt?: number;
  sends: number;
  blockedSince?: number | undefined;
}

function traced(trace: Trace, body: (sse: Sse) => Promise<void>) {
  return withSse(async (_req, sse) => {
    trace.sse = sse;
    try {
      await body(sse);
    } catch (e) {
      trace.caught = e;
      trace.catchAt = performance.now();
    } finally {
      trace.finallyAt = performance.now();
    }
  });
}

/** The handler saw CancelledError in catch and ran finally (within 100 ms of `goneAt` if given); the slot is free. */
async function expectCancelled(trace: Trace, listener: { openConnections: number }, goneAt?: number) {
  await until(() => trace.finallyAt !== undefined, 2000, "the handler's finally");
  expect(trace.caught).toBeInstanceOf(CancelledError);
  if (goneAt !== undefined) {
    expect(trace.catchAt! - goneAt).toBeLessThan(100);
    expect(trace.finallyAt! - goneAt).toBeLessThan(100);
  }
  expect(listener.openConnections).toBe(0);
  expect(trace.sse!.signal.aborted).toBe(true);
  expect(trace.sse!.signal.reason).toBeInstanceOf(CancelledError);
  await trace.sse!.closed; // resolves
  await expect(trace.sse!.send("late")).rejects.toBeInstanceOf(CancelledError);
  await expect(trace.sse!.sleep(1)).rejects.toBeInstanceOf(CancelledError);
}

/** One send, with when it started waiting in trace.blockedSince until it resolves. */
async function trackedSend(trace: Trace, sse: Sse, data: string): Promise<void> {
  const sent = sse.send(data);
  trace.blockedSince ??= performance.now();
  await sent;
  trace.blockedSince = undefined;
  trace.sends++;
}

/** A client that stops reading (kernel buffers fill, then Node's, then the core's), once a send has waited 200 ms. */
async function blockedClient(trace: Trace, port: number) {
  const client = await rawGet(port, "/");
  client.socket.pause();
  await until(() => trace.blockedSince !== undefined && performance.now() - trace.blockedSince > 200, 10_000, "send() to block");
  return client;
}

describe("long waits", () => {
  it("honours sleeps past setTimeout's 2^31 - 1 ms and sleep(Infinity) until the client goes; no timer overflows", async () => {
    const overflows: string[] = [];
    const onWarning = (w: Error) => void (w.name === "TimeoutOverflowWarning" && overflows.push(w.message));
    process.on("warning", onWarning);
    try {
      const woke: number[] = [];
      const trace: Trace = { sends: 0 };
      // A keep-alive interval of 30 days: the host's one timer must not spin either.
      const listener = withSse(async (_req, sse) => {
        trace.sse = sse;
        await sse.send("hello");
        const sleeps = [2 ** 31, 40 * 24 * 3600 * 1000, Infinity].map((ms) => sse.sleep(ms).then(() => woke.push(ms)));
        try {
          await Promise.all(sleeps);
        } catch (e) {
          trace.caught = e;
        } finally {
          trace.finallyAt = performance.now();
        }
      }, { keepAliveMs: 30 * 24 * 3600 * 1000 });
      running = await serve(listener);
      const client = await rawGet(running.port, "/");
      await until(() => client.chunks().length > 0, 2000, "the first event");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(woke).toEqual([]); // a clamped timer would have fired them after 1 ms
      client.socket.destroy();
      await expectCancelled(trace, listener);
      expect(woke).toEqual([]);
      expect(overflows).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("client disconnect", () => {
  it("cancels a sleeping handler within 100 ms (the client closed its socket)", async () => {
    const trace: Trace = { sends: 0 };
    const listener = traced(trace, async (sse) => {
      await sse.send("hello");
      await sse.sleep(60_000);
    });
    running = await serve(listener);
    const client = await rawGet(running.port, "/");
    await until(() => client.chunks().length > 0, 2000, "the first event");
    expect(listener.openConnections).toBe(1);
    const goneAt = performance.now();
    client.socket.destroy();
    await expectCancelled(trace, listener, goneAt);
  });

  it("cancels a sleeping handler when a fetch is aborted", async () => {
    // fetch (undici) shares this process's event loop, so its abort's latency is not the host's;
    // this case checks the outcome, the raw-socket cases above check the time.
    const trace: Trace = { sends: 0 };
    const listener = traced(trace, async (sse) => {
      await sse.send("hello");
      await sse.sleep(60_000);
    });
    running = await serve(listener);
    const abort = new AbortController();
    const response = await fetch(`${running.url}/`, { signal: abort.signal });
    const stream = reader();
    const body = response.body!.getReader();
    while (stream.events().length === 0) stream.feed((await body.read()).value!);
    abort.abort();
    await expectCancelled(trace, listener);
  });

  it("cancels a handler blocked on backpressure within 100 ms (the client stopped reading)", async () => {
    const trace: Trace = { sends: 0 };
    const big = "x".repeat(32 * 1024);
    const listener = traced(trace, async (sse) => {
      while (true) {
        await trackedSend(trace, sse, big);
      }
    });
    running = await serve(listener);
    const client = await blockedClient(trace, running.port);
    const sendsWhileBlocked = trace.sends;
    const goneAt = performance.now();
    client.socket.destroy();
    await expectCancelled(trace, listener, goneAt);
    expect(trace.sends).toBe(sendsWhileBlocked);
  });

  it("resumes a blocked send once the client reads again", async () => {
    const trace: Trace = { sends: 0 };
    const big = "y".repeat(32 * 1024);
    const listener = traced(trace, async (sse) => {
      for (let i = 0; i < 400; i++) {
        await trackedSend(trace, sse, big);
      }
    });
    running = await serve(listener);
    const client = await blockedClient(trace, running.port);
    expect(trace.sends).toBeLessThan(400);
    client.socket.resume();
    await client.closed; // the handler finished all 400 and ended the response
    expect(trace.sends).toBe(400);
    expect(trace.caught).toBeUndefined();
    const events = reader();
    for (const chunk of client.chunks()) events.feed(chunk);
    expect(events.events()).toHaveLength(400);
    expect(events.events().every((e) => e.data === big)).toBe(true);
    expect(listener.openConnections).toBe(0);
  });
});

describe("sse.signal at a normal end", () => {
  it("aborts with an AbortError (not a CancelledError) when the handler returns or throws, so work tied to it is released", async () => {
    const seen = new Map<string, { sse: Sse; released: boolean; hang?: Promise<unknown> }>();
    let hangCancelled: unknown;
    const listener = withSse(async (req: { url?: string }, sse) => {
      const url = req.url!;
      if (url === "/hang") {
        await sse.sleep(60_000).catch((e: unknown) => (hangCancelled = e));
        return;
      }
      const entry: { sse: Sse; released: boolean; hang?: Promise<unknown> } = { sse, released: false };
      seen.set(url, entry);
      await sse.send("hello");
      if (url === "/late") return; // the signal is first read after the end: made already aborted
      sse.signal.addEventListener("abort", () => (entry.released = true));
      // A request tied to the stream, left running when the handler ends: the abort cancels it.
      entry.hang = fetch(`${running!.url}/hang`, { signal: sse.signal }).then((r) => r.text());
      entry.hang.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (url === "/throws") throw new Error("boom");
    }, { onError: () => {} });
    running = await serve(listener);
    for (const path of ["/returns", "/throws", "/late"]) {
      const { stream } = await readAll(`${running.url}${path}`);
      expect(stream.events().map((e) => e.data)).toEqual(["hello"]);
      const entry = seen.get(path)!;
      const sse = entry.sse;
      await sse.closed;
      expect(sse.signal.aborted, path).toBe(true);
      expect(sse.signal.reason).toBeInstanceOf(DOMException);
      expect(sse.signal.reason).not.toBeInstanceOf(CancelledError);
      expect((sse.signal.reason as DOMException).name).toBe("AbortError");
      if (path === "/late") continue;
      expect(entry.released, path).toBe(true);
      await expect(entry.hang).rejects.toMatchObject({ name: "AbortError" });
      await until(() => hangCancelled instanceof CancelledError, 2000, "the tied request's handler to be cancelled");
      hangCancelled = undefined;
    }
    await until(() => listener.openConnections === 0, 2000, "every slot to be free");
  });
});

describe("after a normal end", () => {
  it("a later sleep rejects at once, as a send does, so a detached loop ends; a sleep pending at the return still resolves", async () => {
    let loopEnded: unknown;
    let raced: Promise<void> | undefined;
    let woke = false;
    const listener = withSse(async (_req, sse: Sse) => {
      await sse.send("hello");
      // Work left running past the handler: sleeps, and sends whose rejections it catches.
      void (async () => {
        try {
          for (;;) {
            await sse.sleep(20);
            await sse.send("tick").catch(() => {});
          }
        } catch (error) {
          loopEnded = error;
        }
      })();
      raced = sse.sleep(60).then(() => void (woke = true));
      await Promise.race([raced, sse.sleep(1)]);
    }, { keepAliveMs: 0 });
    running = await serve(listener);
    const { stream } = await readAll(running.url);
    expect(stream.events().map((e) => e.data)).toEqual(["hello"]);
    await until(() => loopEnded !== undefined, 1000, "the detached loop to end"); // before: it slept and sent forever
    expect(loopEnded).toBeInstanceOf(CancelledError);
    expect((loopEnded as Error).message).toBe("the stream is closed");
    await raced;
    expect(woke).toBe(true);
  });
});
