// The history ring: always a gap-free run of the newest recorded events, bounded in events
// and bytes, so a resuming client gets exactly what it missed or is told it cannot.
import { describe, expect, it } from "vitest";
import type { SseExports } from "../bindings/abi.js";
import { EngineMisuseError, OutOfMemoryError, Status } from "../bindings/index.js";
import { engine, rng, text, wasmModule } from "./support/wasm.js";

const frameOf = (id: string, data: string) => `id: ${id}\ndata: ${data}\n\n`;

describe("history", () => {
  it("replays every frame after a known id, in order, and says when an id is not kept", () => {
    const e = engine({ maxConnections: 2, history: { maxEvents: 100, maxBytes: 1 << 16 } });
    const channel = e.open();
    for (let i = 1; i <= 10; i++) e.send(channel, `event ${i}`, { id: String(i), record: true });
    expect(e.historySize).toBe(10);
    expect(e.framesAfter("7")!.map(text)).toEqual([8, 9, 10].map((i) => frameOf(String(i), `event ${i}`)));
    expect(e.framesAfter("10")).toEqual([]);
    expect(e.framesAfter("11")).toBeUndefined();
    expect(e.framesAfter("")).toBeUndefined();
    expect(e.framesFrom(0).length).toBe(10);
    expect(e.historyIndex("7")).toBe(6);
    expect(e.historyIndex("nope")).toBeUndefined();
  });

  it("records only what it is asked to, and only frames that were sent", () => {
    const e = engine({ maxConnections: 1, outBytes: 64, history: { maxEvents: 10, maxBytes: 1024 } });
    const c = e.open();
    e.send(c, "kept", { id: "a", record: true });
    e.send(c, "not kept", { id: "b" });
    expect(() => e.send(c, "x".repeat(100), { id: "c", record: true })).toThrow();
    expect(() => e.send(c, "x", { id: "d\n", record: true })).toThrow();
    expect(e.framesFrom().map(text)).toEqual([frameOf("a", "kept")]);
  });

  it("matches the newest occurrence of a repeated id", () => {
    const e = engine({ maxConnections: 1, history: { maxEvents: 10, maxBytes: 1024 } });
    const c = e.open();
    for (const [id, data] of [["x", "1"], ["y", "2"], ["x", "3"], ["z", "4"]]) e.send(c, data, { id, record: true });
    expect(e.framesAfter("x")!.map(text)).toEqual([frameOf("z", "4")]);
  });

  it("keeps a gap-free suffix within its event and byte bounds, for 20,000 random frames", () => {
    const next = rng(7);
    const maxEvents = 50;
    const maxBytes = 2000;
    const e = engine({ maxConnections: 1, outBytes: 4096, history: { maxEvents, maxBytes } });
    const pages = e.memory.buffer.byteLength;
    const c = e.open();
    const sent: string[] = [];
    let emptiedAt = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = String(i);
      const data = "d".repeat(Math.floor(next() ** 3 * 2200));
      e.send(c, data, { id, record: true });
      e.drain(c);
      sent.push(frameOf(id, data));
      if (id.length + sent[i]!.length > maxBytes) emptiedAt = i + 1; // too large to keep: history restarts
      const kept = e.framesFrom().map(text);
      // The newest frames, contiguous, ending with the last one sent (unless it emptied the history).
      expect(kept).toEqual(sent.slice(sent.length - kept.length));
      expect(sent.length - kept.length).toBeGreaterThanOrEqual(emptiedAt);
      expect(kept.length).toBeLessThanOrEqual(maxEvents);
      const bytes = kept.reduce((n, f, k) => n + f.length + String(i - kept.length + 1 + k).length, 0);
      expect(bytes).toBeLessThanOrEqual(maxBytes);
      // Nothing was dropped that would still have fitted beside the kept ones.
      if (kept.length > 0 && kept.length < maxEvents && sent.length - kept.length > emptiedAt) {
        const prev = sent[sent.length - kept.length - 1]!;
        expect(bytes + prev.length + String(sent.length - kept.length - 1).length).toBeGreaterThan(maxBytes / 2);
      }
    }
    expect(e.memory.buffer.byteLength).toBe(pages);
  });

  it("empties itself rather than keep events across a frame too large to record", () => {
    const e = engine({ maxConnections: 1, outBytes: 4096, history: { maxEvents: 10, maxBytes: 100 } });
    const c = e.open();
    e.send(c, "small", { id: "1", record: true });
    e.send(c, "L".repeat(200), { id: "2", record: true });
    expect(e.historySize).toBe(0);
    expect(e.framesAfter("1")).toBeUndefined();
    e.send(c, "after", { id: "3", record: true });
    expect(e.framesAfter("3")).toEqual([]);
  });

  it("refuses misuse with status codes", () => {
    const x = new WebAssembly.Instance(wasmModule(), {}).exports as unknown as SseExports;
    expect(x.history_init(10, 100)).toBe(Status.NOT_INIT);
    expect(x.history_count()).toBe(Status.NOT_INIT);
    expect(x.history_find(0)).toBe(Status.NOT_INIT);
    expect(x.history_ptr(0)).toBe(Status.NOT_INIT);
    expect(x.history_len(0)).toBe(Status.NOT_INIT);
    x.init(1, 256, 256, 0);
    const c = x.conn_open(-1);
    expect(x.send(c, 2 | 32, 0, 0, 0, 0)).toBe(Status.BAD_ARG); // RECORD before history_init
    expect(x.history_count()).toBe(0);
    for (const [n, b] of [[0, 100], [1 << 21, 100], [10, 15], [10, -1]]) expect(x.history_init(n!, b!)).toBe(Status.BAD_ARG);
    expect(x.history_init(4, 256)).toBe(0);
    expect(x.history_init(4, 256)).toBe(Status.ALREADY_INIT);
    expect(x.send(c, 32, 0, 0, 0, 0)).toBe(Status.BAD_ARG); // RECORD without an id
    expect(x.history_find(-1)).toBe(Status.BAD_ARG);
    expect(x.history_find(0)).toBe(Status.ID_UNKNOWN);
    expect(x.history_ptr(0)).toBe(Status.BAD_ARG);
    expect(x.history_len(-1)).toBe(Status.BAD_ARG);
    expect(x.out_len(c)).toBe(0);
    expect(() => engine({ maxConnections: 1 }).framesFrom()).not.toThrow();
    expect(() => engine({ maxConnections: 1, outBytes: 4096, history: { maxEvents: 1000, maxBytes: 1 << 20 } }, "sse-mcu")).toThrow(OutOfMemoryError);
    expect(() => engine().send(1, "x", { id: "1", record: true })).toThrow(EngineMisuseError);
  });
});
