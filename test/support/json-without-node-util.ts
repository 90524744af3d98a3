// Run by test/json-hostile.test.ts as a host without node:util would (a browser, workerd
// without nodejs_compat): process.getBuiltinModule is gone before the bindings load, so boxes
// are told by prototype and brand checks (bindings/brands.ts). Prints, per value, the frame
// and JSON.stringify's text (or both errors' names), and how often a Proxy's getPrototypeOf
// trap ran and threw.
import { readFileSync } from "node:fs";
import { runInNewContext } from "node:vm";

delete (process as { getBuiltinModule?: unknown }).getBuiltinModule;
const { Engine } = await import("../../bindings/index.js");
const engine = new Engine(new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL("../../build/sse.wasm", import.meta.url))), {}));
const conn = engine.open();

let trapped = 0;
const values: unknown[] = [
  new Number(1.5), new String("s"), new Boolean(false), { n: new Number(2), s: [new String("x")] },
  Object.assign(new Number(5), { a: 1 }), Object.setPrototypeOf(new Number(3), Number.prototype),
  runInNewContext("new Number(7)"), runInNewContext("({ a: [1, new String('r'), new Boolean(true)] })"),
  Object.create(null), Object.assign(Object.create(null), { k: 1 }), { d: new Date(0) }, [1, "two", null],
  new Proxy({ a: 1 }, {
    getPrototypeOf: () => {
      trapped++;
      throw new Error("a throwing trap counts as no box");
    },
  }),
  Object(Symbol("s")), Object(1n),
];
const out = values.map((v) => {
  let want: string;
  let got: string;
  try {
    want = JSON.stringify(v);
  } catch (error) {
    want = (error as Error).name;
  }
  try {
    engine.send(conn, v);
    got = new TextDecoder().decode(engine.drain(conn)).slice("data: ".length, -2);
  } catch (error) {
    got = error instanceof TypeError ? "TypeError" : String(error);
  }
  return { want, got };
});
process.stdout.write(JSON.stringify({ out, trapped }));
