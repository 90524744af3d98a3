// The load and fault tests (npm run test:stress): one file at a time, in a forked worker with
// --expose-gc so memory is measured after a full collection.
// Files end in .stress.ts so that the main suite (test/**/*.test.ts) does not pick them up.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../../", import.meta.url)),
  test: {
    include: ["test/stress/**/*.stress.ts"],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: "forks",
    poolOptions: { forks: { execArgv: ["--expose-gc"] } },
  },
});
