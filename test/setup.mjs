// What `npm test` needs beyond node_modules, installed by `npm test` itself (its "pretest"), so
// that the README's command is enough on a fresh Debian machine:
//
//   - npm packages, when node_modules was never installed (npm ci).
//   - Debian packages: chromium (the browser tests launch /usr/bin/chromium), redis-server (the
//     shared-channel tests start their own on a free loopback port), prometheus (promtool checks
//     the metrics; a test scrapes the demo with a Prometheus server of its own), gcc (pywasm3 builds
//     from its sdist; test/hosts/test_embed_c.py compiles the C host), and, when python3 is
//     Debian's, python3-venv and python3-dev; gcc-arm-none-eabi, libnewlib-arm-none-eabi and
//     qemu-system-arm (test/hosts/test_mcu.py builds Cortex-M firmware and runs it in QEMU).
//     Installed with apt-get (without Recommends: gcc-arm-none-eabi's alone are 1.5 GB) when
//     running as root; otherwise this prints the exact command and exits 1 before any test runs.
//   - Python packages: test/hosts/requirements.txt in a project-local virtual environment,
//     .venv/, (re)created only when it is missing, broken, or the requirements file changed
//     (its sha256 is kept in .venv/.requirements.sha256, written last).
//
// A second run finds everything in place and does nothing (a few file checks and one python start).
//
//   node test/setup.mjs          everything `npm test` needs
//   node test/setup.mjs --hosts  only what `npm run test:hosts` (pytest) needs: gcc, the Arm
//                                toolchain and QEMU, and .venv
//
// Plain Node (no dependencies), so it runs before anything else is built.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VENV = join(ROOT, ".venv");
const VENV_PYTHON = join(VENV, "bin", "python");
const REQUIREMENTS = join(ROOT, "test", "hosts", "requirements.txt");
const STAMP = join(VENV, ".requirements.sha256");
const CHROMIUM = "/usr/bin/chromium"; // the path test/*browser*.test.ts launch
const NEWLIB = "/usr/lib/arm-none-eabi/newlib"; // libnewlib-arm-none-eabi's C library for the firmware

const hostsOnly = process.argv.includes("--hosts");
const say = (line) => console.error(`test/setup: ${line}`);

function fail(lines) {
  for (const line of lines) say(line);
  process.exit(1);
}

function onPath(name) {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
}

// python3 as found on PATH: can it make a venv with pip, and build a C extension (pywasm3)?
function probePython() {
  if (!onPath("python3")) return { missing: true };
  const r = run("python3", ["-c", `
import os, sys, sysconfig
try:
    import venv, ensurepip
    has_venv = True
except ImportError:
    has_venv = False
print(sys.executable, sys.base_prefix, int(has_venv),
      int(os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))), sep="\\n")`]);
  if (r.status !== 0) return { missing: true };
  const [executable, prefix, venv, headers] = r.stdout.trim().split("\n");
  return { executable, debian: prefix === "/usr", venv: venv === "1", headers: headers === "1" };
}

const requirementsHash = () => createHash("sha256").update(readFileSync(REQUIREMENTS)).digest("hex");

function venvUpToDate() {
  if (!existsSync(VENV_PYTHON) || !existsSync(STAMP)) return false;
  if (readFileSync(STAMP, "utf8").trim() !== requirementsHash()) return false;
  // The interpreter it points at may have gone (a Python upgrade): then start over.
  return run(VENV_PYTHON, ["-c", ""]).status === 0;
}

// --- npm packages ------------------------------------------------------------------------------

// `npm test` on a fresh clone: install them as `npm ci` would. node_modules/.package-lock.json is
// npm's own record of an install, so a tree someone installed (`npm ci`, as .ci/run does) is kept.
if (!hostsOnly && !existsSync(join(ROOT, "node_modules", ".package-lock.json"))) {
  say("installing the npm packages (npm ci)");
  const r = run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) fail([`npm ci failed (exit ${r.status ?? r.signal})`]);
}

// --- what is missing -----------------------------------------------------------------------

const needVenv = !venvUpToDate();
const python = needVenv ? probePython() : null;
const apt = new Set();
const problems = [];
if (!hostsOnly && !existsSync(CHROMIUM)) apt.add("chromium");
if (!hostsOnly && !onPath("redis-server")) apt.add("redis-server");
if (!hostsOnly && !onPath("promtool")) apt.add("prometheus");
if (!onPath("gcc")) apt.add("gcc");
if (!onPath("arm-none-eabi-gcc")) apt.add("gcc-arm-none-eabi");
if (!existsSync(NEWLIB)) apt.add("libnewlib-arm-none-eabi");
if (!onPath("qemu-system-arm")) apt.add("qemu-system-arm");
if (python?.missing) {
  for (const p of ["python3", "python3-venv", "python3-dev"]) apt.add(p);
} else if (python) {
  if (!python.venv) python.debian ? apt.add("python3-venv") : problems.push(`${python.executable} has no venv/ensurepip module; use a python3 that has (python3 -m venv must work)`);
  if (!python.headers) python.debian ? apt.add("python3-dev") : problems.push(`${python.executable} has no C headers (Python.h), which building pywasm3 needs`);
}
if (problems.length) fail(problems);

// --- Debian packages -------------------------------------------------------------------------

if (apt.size) {
  const pkgs = [...apt];
  // Without Recommends (gcc-arm-none-eabi's alone are 1.5 GB), except chromium's (fonts, GL),
  // which it was always installed with.
  const installs = [pkgs.filter((p) => p === "chromium"), pkgs.filter((p) => p !== "chromium")]
    .filter((group) => group.length > 0)
    .map((group) => ["install", "-y", ...(group[0] === "chromium" ? [] : ["--no-install-recommends"]), ...group]);
  const isRoot = process.getuid?.() === 0;
  if (!onPath("apt-get")) {
    fail([`npm test needs ${pkgs.join(", ")}, and this machine has no apt-get: install them with its package manager, then run npm test again.`]);
  }
  if (!isRoot) {
    fail([
      `npm test needs Debian packages that are not installed: ${pkgs.join(" ")}`,
      "install them as root, then run npm test again:",
      `  sudo apt-get update && ${installs.map((args) => `sudo apt-get ${args.join(" ")}`).join(" && ")}`,
    ]);
  }
  say(`installing Debian packages: ${pkgs.join(" ")} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const aptGet = (...args) => {
    const r = run("apt-get", ["-qq", ...args], { env });
    if (r.status !== 0) return `${r.stdout}${r.stderr}`.trim() || `apt-get ${args.join(" ")} exited ${r.status}`;
    return null;
  };
  // Refresh the package lists first only when one of the packages has no install candidate
  // (no lists yet, or too old to know it); else after a failed install (lists gone stale).
  const unknown = pkgs.some((p) => !/Candidate: (?!\(none\))/.test(run("apt-cache", ["policy", p]).stdout ?? ""));
  let updated = false;
  if (unknown) {
    const err = aptGet("update");
    if (err) fail(["apt-get update failed:", err]);
    updated = true;
  }
  for (const install of installs) {
    let err = aptGet(...install);
    if (err && !updated) {
      aptGet("update");
      updated = true;
      err = aptGet(...install);
    }
    if (err) fail([`apt-get ${install.join(" ")} failed:`, err]);
  }
}

// --- the Python virtual environment ----------------------------------------------------------

if (needVenv) {
  const again = probePython();
  if (again.missing || !again.venv) fail([`python3 -m venv still cannot work (${again.executable ?? "no python3"})`]);
  const rel = relative(ROOT, REQUIREMENTS);
  say(`creating .venv (${again.executable}) and installing ${rel}`);
  try {
    rmSync(VENV, { recursive: true, force: true });
  } catch (error) {
    fail([`cannot replace .venv: ${error.message}`]);
  }
  const steps = [
    ["python3", ["-m", "venv", VENV]],
    // pywasm3 builds from its sdist without build isolation only when wheel is already present.
    [VENV_PYTHON, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "wheel"]],
    [VENV_PYTHON, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", REQUIREMENTS]],
  ];
  for (const [cmd, args] of steps) {
    const r = run(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) fail([`${cmd === VENV_PYTHON ? ".venv/bin/python" : cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal}); .venv is left incomplete and will be rebuilt on the next run`]);
  }
  writeFileSync(STAMP, `${requirementsHash()}\n`);
  say(".venv is ready");
}
