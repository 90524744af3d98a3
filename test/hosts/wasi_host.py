"""build/sse-wasi.wasm under Wasmtime: the command with its stdio on files (or, with
inherit=True, on this process's own descriptors, pipes included). Only WASI preview1 is
linked; the module gets no directories and no environment."""
import wasmtime

from runtimes import ROOT

WASI_BUILD = ROOT / "build" / "sse-wasi.wasm"
_engine = wasmtime.Engine()
_module = None


def module():
    global _module
    if _module is None:
        if not WASI_BUILD.exists():
            raise FileNotFoundError(f"{WASI_BUILD} is missing: run `npm run build:wasm` first")
        _module = wasmtime.Module.from_file(_engine, str(WASI_BUILD))
    return _module


def run(args, stdin=None, stdout=None, stderr=None, inherit=False):
    """Runs the command to its end; returns its exit status."""
    config = wasmtime.WasiConfig()
    config.argv = ["sse-wasi", *args]
    if inherit:
        config.inherit_stdin()
        config.inherit_stdout()
        config.inherit_stderr()
    else:
        config.stdin_file = str(stdin)
        config.stdout_file = str(stdout)
        config.stderr_file = str(stderr)
    store = wasmtime.Store(_engine)
    store.set_wasi(config)
    linker = wasmtime.Linker(_engine)
    linker.define_wasi()
    instance = linker.instantiate(store, module())
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        return e.code
    return 0
