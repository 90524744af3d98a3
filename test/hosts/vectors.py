"""The conformance vectors (format: test/vectors/format.ts) and their replay, as
test/vectors/replay.ts does it for V8."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "test" / "vectors" / "data"
NO_MEMORY = -6


class Mismatch(AssertionError):
    pass


def load_vectors():
    vectors = []
    for path in sorted(DATA.glob("*.json")):
        vectors.extend(json.loads(path.read_text())["vectors"])
    return vectors


def num(n):
    return float(n) if isinstance(n, str) else n


def same(got, want):
    """Results compare exactly; NaN equals NaN, and -0 is not 0 (as Object.is)."""
    if isinstance(got, float) or isinstance(want, float):
        g, w = float(got), float(want)
        if g != g or w != w:
            return g != g and w != w
        return g == w and (g != 0 or str(g) == str(w))
    return got == want


def is_config_step(step):
    return step.get("call") in ("init", "history_init", "shape_init", "wide_init") and step.get("expect") == 0


def replay(vector, host, target):
    """Replays every step the target is meant to run; raises Mismatch on the first difference."""
    refuses = target == "mcu" and vector["mcu"] == "no_memory"
    for i, step in enumerate(vector["steps"]):
        where = f"{vector['name']} step {i} ({host.name}, {target})"
        if refuses and is_config_step(step):
            r = host.call(step["call"], [num(a) for a in step["args"]])
            if r == 0:
                continue
            if r != NO_MEMORY:
                raise Mismatch(f"{where}: {step['call']} returned {r}, expected 0 or NO_MEMORY")
            return
        run_step(step, host, where)
    if refuses:
        raise Mismatch(f"{vector['name']}: the mcu build never said NO_MEMORY")


def run_step(step, host, where):
    if "call" in step:
        if "stage" in step:
            host.write(host.call("staging_ptr", []), bytes.fromhex(step["stage"]))
        r = host.call(step["call"], [num(a) for a in step["args"]])
        want = step.get("expect")
        if want is None:
            return
        if want == "ptr":
            if not r > 0:
                raise Mismatch(f"{where}: {step['call']} returned {r}, expected an address")
        elif not same(r, num(want)):
            raise Mismatch(f"{where}: {step['call']}{tuple(step['args'])} returned {r}, expected {want}")
    elif "drain" in step:
        got = drain(host, step["drain"], step["chunks"], step.get("max"), where)
        if got != step["expect"]:
            raise Mismatch(f"{where}: drained {got}, expected {step['expect']}")
    else:
        name, args = step["read"]
        ptr = host.call(name, args)
        n = step["len"] if isinstance(step["len"], int) else host.call(step["len"][0], step["len"][1])
        got = host.read(ptr, n).hex()
        if got != step["expect"]:
            raise Mismatch(f"{where}: read {got}, expected {step['expect']}")


def drain(host, conn, chunks, limit, where):
    out = []
    total = 0
    i = 0
    while limit is None or total < limit:
        pending = host.call("out_len", [conn])
        if pending < 0:
            raise Mismatch(f"{where}: out_len returned {pending}")
        if pending == 0:
            break
        if chunks[i % len(chunks)] == 0:
            ptr = host.call("out_take", [conn])
            n = int.from_bytes(host.read(host.call("taken_ptr", []), 4), "little")
            if ptr <= 0 or n != pending:
                raise Mismatch(f"{where}: out_take returned {ptr}, {n} bytes of {pending}")
            out.append(host.read(ptr, n))
            total += n
            i += 1
            continue
        n = min(chunks[i % len(chunks)], pending, (limit - total) if limit is not None else pending)
        ptr = host.call("out_ptr", [conn])
        out.append(host.read(ptr, n))
        r = host.call("out_consume", [conn, n])
        if r != 0:
            raise Mismatch(f"{where}: out_consume({n}) returned {r}")
        total += n
        i += 1
    return b"".join(out).hex()
