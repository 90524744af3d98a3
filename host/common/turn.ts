// "After this turn of the event loop": after every callback and microtask now queued, before
// I/O is polled again. setImmediate where the runtime has it (Node, Bun, Deno); elsewhere
// (workerd, browsers) a zero-delay timer, a little later but still after every microtask.

const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;

export const afterTurn: (callback: () => void) => void = immediate !== undefined ? (callback) => void immediate(callback) : (callback) => void setTimeout(callback, 0);
