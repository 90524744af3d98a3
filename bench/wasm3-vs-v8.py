"""Events framed per second by the wasm3 interpreter (pywasm3) next to V8, on this machine.

    python3 bench/wasm3-vs-v8.py [seconds]

Each event is one send() plus one out_consume() on the same staged bytes (bench/wasm3-cases.json),
on the mcu build (what a microcontroller runs) and the release build. Under pywasm3 every
call also crosses from Python; the empty-call row (abi_version) measures that cost, so the
interpreter's own share can be read off. V8's figures come from bench/wasm3-v8-side.ts."""
import json
import subprocess
import sys
import time
from pathlib import Path

import wasm3

ROOT = Path(__file__).resolve().parents[1]
CASES = json.loads((ROOT / "bench" / "wasm3-cases.json").read_text())
BUILDS = {"mcu": ROOT / "build" / "sse-mcu.wasm", "release": ROOT / "build" / "sse.wasm"}
# The stacks the tests give each build (test/hosts/runtimes.py).
STACK = {"mcu": 2048, "release": 2304}


def instance(target):
    env = wasm3.Environment()
    rt = env.new_runtime(STACK[target])
    rt.load(env.parse_module(BUILDS[target].read_bytes()))
    return env, rt


def wasm3_rate(target, case, seconds):
    env, rt = instance(target)
    f = rt.find_function
    assert f("init")(1, 4096, 1024, 0.0) == 0
    conn = f("conn_open")(-1)
    staging = f("staging_ptr")()
    stage = bytes.fromhex(case["stage"])
    rt.get_memory(0)[staging:staging + len(stage)] = stage
    send, consume = f("send"), f("out_consume")
    args = (conn, case["flags"], case["eventLen"], case["idLen"], case["dataLen"], 0.0)
    events, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            n = send(*args)
            if n < 0 or consume(conn, n) != 0:
                raise RuntimeError(f"send: {n}")
        events += 200
    return events / (time.perf_counter() - start)


def wasm3_empty_calls(seconds):
    env, rt = instance("mcu")
    f = rt.find_function("abi_version")
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            f()
        calls += 1000
    return calls / (time.perf_counter() - start)


def v8_rates(target):
    out = subprocess.run(["npx", "tsx", str(ROOT / "bench" / "wasm3-v8-side.ts"), target], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return {r["case"]: r["eventsPerSecond"] for r in map(json.loads, out.stdout.splitlines())}


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    empty = wasm3_empty_calls(seconds)
    rows = []
    for target in ("mcu", "release"):
        v8 = v8_rates(target)
        for case in CASES:
            w3 = wasm3_rate(target, case, seconds)
            # Two calls per event cross from Python; what remains is the interpreter's work.
            interp = 1 / (1 / w3 - 2 / empty)
            rows.append((target, case["name"], w3, interp, v8[case["name"]]))
    print(f"wasm3 (pywasm3 0.5.0; stack: mcu {STACK['mcu']} B, release {STACK['release']} B) vs V8 (Node {node_version()}), events framed per second")
    print(f"Python -> wasm3 empty call: {empty:,.0f} calls/s ({1e6 / empty:.2f} us each)\n")
    print(f"{'build':8} {'event':26} {'wasm3':>12} {'wasm3 w/o calls':>16} {'V8':>14} {'V8 / wasm3':>11}")
    for target, name, w3, interp, v8 in rows:
        print(f"{target:8} {name:26} {w3:12,.0f} {interp:16,.0f} {v8:14,.0f} {v8 / interp:10.1f}x")


def node_version():
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
