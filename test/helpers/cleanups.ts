// What a test opens is closed after it, newest first, whatever happened: `later(close)`.
import { afterEach } from "vitest";

const cleanups: Array<() => unknown> = [];

export function later(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // closing what already failed
    }
  }
});
