// The engine's frames against JSON.stringify's text, value by value.
import { expect } from "vitest";
import { BufferFullError, type Engine } from "../../bindings/index.js";
import { text } from "./wasm.js";

/** Sends every value as its own event and checks the concatenated frames against JSON.stringify. */
export function assertSameAsStringify(e: Engine, values: readonly unknown[]): void {
  const conn = e.open();
  let batchStart = 0;
  const flush = (end: number) => {
    const got = text(e.drain(conn));
    let want = "";
    for (let i = batchStart; i < end; i++) want += `data: ${JSON.stringify(values[i])}\n\n`;
    if (got !== want) {
      // Narrow down to the first value that differs, for a readable failure.
      const frames = got.split("\n\n");
      for (let i = batchStart; i < end; i++) {
        expect({ i, json: frames[i - batchStart] }).toEqual({ i, json: `data: ${JSON.stringify(values[i])}` });
      }
    }
    batchStart = end;
  };
  for (let i = 0; i < values.length; i++) {
    try {
      e.send(conn, values[i]);
    } catch (err) {
      if (!(err instanceof BufferFullError)) throw err;
      flush(i);
      e.send(conn, values[i]);
    }
  }
  flush(values.length);
  e.close(conn);
}

