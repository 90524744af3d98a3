"""The WASI command under Wasmtime: every case of test/vectors/wasi/cases.json byte for byte
(node:wasi runs the same file in test/wasi.test.ts), its imports, and `tail -f` streaming."""
import hashlib
import json
import os
import select
import subprocess
import sys
import time

import pytest
import wasmtime

from runtimes import ROOT
from wasi_host import WASI_BUILD, module, run

CASES = json.loads((ROOT / "test" / "vectors" / "wasi" / "cases.json").read_text())["cases"]
HERE = os.path.dirname(os.path.abspath(__file__))


def stdin_bytes(case):
    return b"".join(bytes.fromhex(h) * n for h, n in case["stdin"])


def check_stdout(case, out):
    if "stdout" in case:
        assert out.hex() == case["stdout"]
    else:
        assert len(out) == case["stdout_len"]
        assert hashlib.sha256(out).hexdigest() == case["stdout_sha256"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_under_wasmtime(case, tmp_path):
    (tmp_path / "in").write_bytes(stdin_bytes(case))
    code = run(case["args"], tmp_path / "in", tmp_path / "out", tmp_path / "err")
    assert code == case["exit"]
    check_stdout(case, (tmp_path / "out").read_bytes())
    assert (tmp_path / "err").read_bytes().decode() == case["stderr"]


def test_case_count(capsys):
    with capsys.disabled():
        print(f"\nwasmtime WASI: {len(CASES)} cases")
    assert len(CASES) >= 25


def test_imports_only_wasi_preview1():
    names = {(i.module, i.name) for i in module().imports}
    assert names <= {("wasi_snapshot_preview1", n) for n in
                     ("fd_read", "fd_write", "args_get", "args_sizes_get", "clock_time_get", "proc_exit")}
    assert ("wasi_snapshot_preview1", "fd_read") in names
    exports = {e.name for e in module().exports}
    assert {"_start", "memory"} <= exports


def read_event(stream, deadline):
    """Reads from a pipe until one whole frame (ending in a blank line) has arrived."""
    got = b""
    while not got.endswith(b"\n\n"):
        ready, _, _ = select.select([stream], [], [], max(0, deadline - time.monotonic()))
        assert ready, f"no complete event before the deadline; got {got!r}"
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, f"stream ended; got {got!r}"
        got += chunk
    return got


def test_tail_f_streams_each_line_as_it_is_written(tmp_path):
    """`tail -f app.log | <wasmtime> sse-wasi.wasm -- --event log`: each line appended to the
    log comes out as an event while the pipe stays open (no waiting for end of input)."""
    log = tmp_path / "app.log"
    log.write_bytes(b"boot\n")
    tail = subprocess.Popen(["tail", "-n", "+1", "-f", str(log)], stdout=subprocess.PIPE)
    sse = subprocess.Popen([sys.executable, os.path.join(HERE, "wasi_run.py"), "--", "--event", "log", "--id-start", "1"],
                           stdin=tail.stdout, stdout=subprocess.PIPE)
    tail.stdout.close()
    try:
        deadline = time.monotonic() + 20  # a bound against hanging, not a latency assertion
        assert read_event(sse.stdout, deadline) == b"event: log\nid: 1\ndata: boot\n\n"
        for i, line in enumerate([b"GET / 200", b"POST /x 500"], start=2):
            with log.open("ab") as f:
                f.write(line + b"\n")
            assert read_event(sse.stdout, deadline) == b"event: log\nid: %d\ndata: %s\n\n" % (i, line)
        assert sse.poll() is None, "the command must keep running while its input is open"
    finally:
        tail.kill()
        tail.wait()
        assert sse.wait(timeout=20) == 0  # tail's end closes the pipe: end of input, exit 0
