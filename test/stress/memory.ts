// Memory figures of the test process: RSS, V8 heap after a full collection, and the linear
// memory of every live WebAssembly instance. The host's engine pool is private, so the wasm
// figure comes from a census: WebAssembly.Instance is wrapped (the real constructor still
// builds every instance) to keep a weak reference to each instance made after install().
const live = new Set<WeakRef<WebAssembly.Instance>>();
let installed = false;

export function installWasmCensus(): void {
  if (installed) return;
  installed = true;
  WebAssembly.Instance = new Proxy(WebAssembly.Instance, {
    construct(target, args, newTarget) {
      const instance = Reflect.construct(target, args, newTarget) as WebAssembly.Instance;
      live.add(new WeakRef(instance));
      return instance;
    },
  });
}

export interface Figures {
  rssMiB: number;
  heapMiB: number;
  wasmInstances: number;
  wasmMiB: number;
}

const MiB = 2 ** 20;

/** Collects garbage (the stress suite runs with --expose-gc) and measures. */
export async function measure(): Promise<Figures> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("the stress tests need node --expose-gc");
  // Weak references clear only between turns, and finalizers run after a collection.
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  let wasmBytes = 0;
  let wasmInstances = 0;
  for (const ref of live) {
    const instance = ref.deref();
    if (instance === undefined) {
      live.delete(ref);
      continue;
    }
    wasmInstances++;
    wasmBytes += (instance.exports["memory"] as WebAssembly.Memory).buffer.byteLength;
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMiB: round(rss / MiB), heapMiB: round(heapUsed / MiB), wasmInstances, wasmMiB: round(wasmBytes / MiB) };
}

const round = (x: number) => Math.round(x * 10) / 10;

export function show(label: string, f: Figures): string {
  return `${label}: RSS ${f.rssMiB} MiB, heap ${f.heapMiB} MiB, wasm ${f.wasmInstances} instances ${f.wasmMiB} MiB`;
}
