"""Raw-ABI hosts for the core under wasmtime and wasm3: call an export with numbers, read and
write linear memory. The core imports nothing, so neither host links a single function."""
import math
from pathlib import Path

import wasm3
import wasmtime

ROOT = Path(__file__).resolve().parents[2]
BUILDS = {"release": ROOT / "build" / "sse.wasm", "mcu": ROOT / "build" / "sse-mcu.wasm"}

# wasm3's interpreter stack, in bytes, per build. The mcu build gets what a small
# microcontroller host gives it (2 KiB, as test/embed/host.c does); its deepest call chain
# (send -> a JSON record -> number formatting) needs about 1.85 KiB. The release build
# (-O3 inlines more into send) needs about 2.05 KiB and gets 2.25 KiB.
WASM3_STACK = {"mcu": 2048, "release": 2304}

_F64 = 4  # wasm3's type code for f64
_WT_F64 = wasmtime.ValType.f64()


def build(target):
    path = BUILDS[target]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm run build:wasm` first")
    return path.read_bytes()


class WasmtimeHost:
    """The core instantiated by Wasmtime (Cranelift)."""

    name = "wasmtime"

    engine = wasmtime.Engine()
    _compiled = {}

    def __init__(self, wasm):
        # Compiled once per build; every vector gets a fresh store and instance.
        module = self._compiled.get(wasm)
        if module is None:
            module = self._compiled[wasm] = wasmtime.Module(self.engine, wasm)
        self.store = wasmtime.Store(self.engine)
        instance = wasmtime.Instance(self.store, module, [])
        self.exports = instance.exports(self.store)
        self.memory = self.exports["memory"]
        self._funcs = {}

    def call(self, name, args):
        f = self._funcs.get(name)
        if f is None:
            f = self._funcs[name] = self.exports[name]
        params = f.type(self.store).params
        return f(self.store, *[_coerce(p == _WT_F64, a) for p, a in zip(params, args)])

    def read(self, ptr, n):
        return bytes(self.memory.read(self.store, ptr, ptr + n))

    def write(self, ptr, data):
        self.memory.write(self.store, data, ptr)


class Wasm3Host:
    """The core interpreted by wasm3, with a small stack."""

    name = "wasm3"

    def __init__(self, wasm, stack=WASM3_STACK["mcu"]):
        self.env = wasm3.Environment()
        self.runtime = self.env.new_runtime(stack)
        self.runtime.load(self.env.parse_module(wasm))
        self._funcs = {}

    def call(self, name, args):
        f = self._funcs.get(name)
        if f is None:
            f = self._funcs[name] = self.runtime.find_function(name)
        return f(*[_coerce(t == _F64, a) for t, a in zip(f.arg_types, args)])

    def memory(self):
        # Fetched per access: growing memory replaces the buffer.
        return self.runtime.get_memory(0)

    def read(self, ptr, n):
        return bytes(self.memory()[ptr:ptr + n])

    def write(self, ptr, data):
        self.memory()[ptr:ptr + len(data)] = data


def _coerce(is_f64, a):
    if is_f64:
        return float(a)
    if isinstance(a, float):
        if not a.is_integer() or math.isinf(a):
            raise ValueError(f"{a} is not an i32")
        return int(a)
    return a
