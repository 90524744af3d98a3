import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Tests open real sockets and spawn runtimes: one file at a time keeps a 2-core machine honest.
    fileParallelism: false,
  },
});
