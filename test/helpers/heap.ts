// The heap a test holds, measured after full collections (gc exposed at run time).
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";

/** Heap in use after full collections. */
export function heapAfterGc(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
