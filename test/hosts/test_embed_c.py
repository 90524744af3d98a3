"""The minimal C host (test/embed/host.c) compiled with gcc against the wasm3 sources in the
pywasm3 0.5.0 sdist (fetched once into a cache outside the repo: wasm3_sources.py), and run on the
mcu and release builds: its output must be the spec's bytes."""
import shutil
import subprocess

import pytest

from runtimes import BUILDS, ROOT
from wasm3_sources import wasm3_sources

HOST_C = ROOT / "test" / "embed" / "host.c"


@pytest.fixture(scope="session")
def c_host(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is required to build the C host")
    work = tmp_path_factory.mktemp("wasm3-c")
    wasm3 = wasm3_sources()
    exe = work / "host"
    # The host itself must compile cleanly; wasm3's own sources get no -Werror.
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{wasm3}", "-c", str(HOST_C),
                    "-o", str(work / "host.o")], check=True, timeout=120)
    subprocess.run(["gcc", "-std=gnu11", "-O2", f"-I{wasm3}", str(work / "host.o"), *map(str, sorted(wasm3.glob("*.c"))),
                    "-lm", "-o", str(exe)], check=True, timeout=300)
    return exe


def run(exe, target, event, data):
    return subprocess.run([str(exe), str(BUILDS[target]), event, data], capture_output=True, timeout=60)


@pytest.mark.parametrize("target", ["mcu", "release"])
def test_c_host_prints_the_framed_event(c_host, target):
    r = run(c_host, target, "log", "hello\nworld\r\nagain")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"event: log\ndata: hello\ndata: world\ndata: again\n\n"


def test_c_host_without_event_name(c_host):
    r = run(c_host, "mcu", "", "{\"n\":1}")
    assert (r.returncode, r.stdout) == (0, b'data: {"n":1}\n\n')


def test_c_host_reports_a_refused_event(c_host):
    r = run(c_host, "mcu", "bad\nname", "x")
    assert (r.returncode, r.stdout, r.stderr) == (2, b"", b"send: status -10\n")
