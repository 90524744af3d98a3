// What a handler holds as `sse`, in both hosts: the documented members and nothing else (no
// flush, deliver or destroy of the stream behind it, not even through its class), and only
// such handles subscribe.
import { describe, expect, it } from "vitest";
import { Channel, sseResponse, withSse, type Sse } from "../index.js";
import { serve } from "./helpers/listen.js";

const DOCUMENTED = ["closed", "comment", "lastEventId", "send", "signal", "sleep"];

/** Every property name reachable on `o` below Object.prototype, constructors aside. */
function reachable(o: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const key of Reflect.ownKeys(p)) if (key !== "constructor") names.add(String(key));
  }
  return [...names].sort();
}

describe("the sse object", () => {
  it("has only the documented members, from withSse and from sseResponse", async () => {
    let fromNode: Sse | undefined;
    const running = await serve(withSse(async (_req, sse) => {
      fromNode = sse;
      await sse.send("hi");
    }));
    await (await fetch(running.url, { headers: { accept: "text/event-stream" } })).text();
    await running.close();
    let fromWeb: Sse | undefined;
    const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), (sse) => {
      fromWeb = sse;
      return sse.send("hi");
    });
    expect(await response.text()).toBe("data: hi\n\n");
    expect(reachable(fromNode!)).toEqual(DOCUMENTED);
    expect(reachable(fromWeb!)).toEqual(DOCUMENTED);
    expect(Object.keys(fromNode!)).toEqual([]);
    // Nor through its class: no static member leads to a stream, and no handle is made outside the host.
    const maker = fromWeb!.constructor as unknown as new (...args: unknown[]) => Sse;
    expect(Reflect.ownKeys(maker).sort()).toEqual(["length", "name", "prototype"]);
    expect(() => new maker({ deliver() {} })).toThrow(TypeError);
  });

  it("is the only thing a Channel subscribes: a look-alike is refused with a TypeError", async () => {
    const channel = new Channel();
    const response = sseResponse(new Request("http://x/", { headers: { accept: "text/event-stream" } }), (sse) => {
      const fake = { send: sse.send.bind(sse), comment: sse.comment.bind(sse), sleep: sse.sleep.bind(sse), lastEventId: undefined, signal: sse.signal, closed: sse.closed };
      expect(() => channel.subscribe(fake)).toThrow(TypeError);
      expect(() => channel.subscribe(Object.create(sse) as Sse)).toThrow(TypeError);
      channel.subscribe(sse);
      channel.send("broadcast");
    });
    expect(await response.text()).toBe("data: broadcast\n\n");
  });
});
