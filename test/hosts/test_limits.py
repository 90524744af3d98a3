"""The limits README "Embedding" states, checked under both runtimes: code size, pages of
memory, connections, bytes per connection, and the interpreter stack the mcu build needs."""
import pytest
import wasmtime

from runtimes import BUILDS, Wasm3Host, WasmtimeHost, build
from vectors import Mismatch, load_vectors, replay
from wasi_host import WASI_BUILD

KIB = 1024
PAGE = 64 * KIB
NO_MEMORY, CAPACITY, NO_SPACE, BAD_ARG = -6, -4, -14, -2
HOSTS = [WasmtimeHost, Wasm3Host]


def test_code_size():
    sizes = {t: BUILDS[t].stat().st_size for t in BUILDS}
    assert sizes["release"] < 32 * KIB
    assert sizes["mcu"] < 24 * KIB
    assert WASI_BUILD.stat().st_size < 32 * KIB
    print(f"\ncode size: release {sizes['release']} B, mcu {sizes['mcu']} B, wasi {WASI_BUILD.stat().st_size} B")


def test_mcu_memory_is_one_page_growing_to_two():
    (memory,) = [e.type for e in wasmtime.Module(wasmtime.Engine(), build("mcu")).exports if e.name == "memory"]
    assert (memory.limits.min, memory.limits.max) == (1, 2)


@pytest.mark.parametrize("make_host", HOSTS, ids=["wasmtime", "wasm3"])
def test_mcu_four_connections_of_16_kib_fit_two_pages(make_host):
    h = make_host(build("mcu"))
    assert h.call("init", [4, 16 * KIB, 4 * KIB, 0]) == 0
    conns = [h.call("conn_open", [-1]) for _ in range(4)]
    assert all(c > 0 for c in conns)
    assert h.call("conn_open", [-1]) == CAPACITY
    # Each connection holds exactly its 16 KiB: four 4 KiB frames, then no space.
    h.write(h.call("staging_ptr", []), b"x" * 4088)
    for c in conns:
        assert [h.call("send", [c, 0, 0, 0, 4088, 0]) for _ in range(4)] == [4096] * 4
        assert h.call("send", [c, 0, 0, 0, 0, 0]) == NO_SPACE
        assert h.call("out_len", [c]) == 16 * KIB
    pages = len(h.memory()) if isinstance(h, Wasm3Host) else h.memory.size(h.store)
    assert pages in (2 * PAGE, 2)


@pytest.mark.parametrize("make_host", HOSTS, ids=["wasmtime", "wasm3"])
def test_mcu_refuses_what_two_pages_cannot_hold(make_host):
    assert make_host(build("mcu")).call("init", [4, 32 * KIB, 4 * KIB, 0]) == NO_MEMORY
    assert make_host(build("mcu")).call("init", [1, 128 * KIB, 256, 0]) == NO_MEMORY
    # At the smallest sizes (16 B out, 256 B staging) two pages hold over 300 connections.
    assert make_host(build("mcu")).call("init", [300, 16, 256, 0]) == 0
    assert make_host(build("mcu")).call("init", [400, 16, 256, 0]) == NO_MEMORY


def test_release_connection_table_bounds():
    h = WasmtimeHost(build("release"))
    assert h.call("init", [65536, 16, 256, 0]) == BAD_ARG
    assert h.call("init", [65535, 16, 256, 0]) == 0
    assert h.call("open_count", []) == 0


def test_wasm3_stack_for_the_mcu_build_is_about_1900_bytes():
    # A record's number is the deepest path (send -> the record writer -> number formatting):
    # 1.75 KiB of interpreter stack traps, 2 KiB passes every vector (test_vectors.py runs the
    # whole corpus with it).
    v = next(v for v in load_vectors() if v["name"] == "shapes/random/0")
    replay(v, Wasm3Host(build("mcu"), 2 * KIB), "mcu")
    with pytest.raises(RuntimeError, match="stack overflow"):
        replay(v, Wasm3Host(build("mcu"), 7 * KIB // 4), "mcu")
