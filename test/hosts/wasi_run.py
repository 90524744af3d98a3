"""`wasmtime run build/sse-wasi.wasm -- ARGS` through the Wasmtime Python package, on this
process's stdin and stdout:  tail -f app.log | python3 test/hosts/wasi_run.py --event log"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasi_host import run  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(run(args[1:] if args[:1] == ["--"] else args, inherit=True))
