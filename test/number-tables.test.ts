// The number formatter's constant tables, recomputed from first principles with BigInt.
import { execFileSync } from "node:child_process";
import { expect, it } from "vitest";

it("assembly/number.ts carries exactly the tables its generator derives", () => {
  const out = execFileSync(process.execPath, [new URL("../assembly/number-tables.mjs", import.meta.url).pathname, "--check"], { encoding: "utf8" });
  expect(out.trim()).toMatch(/tables ok$/);
});
