"""Every conformance vector, byte for byte, under Wasmtime (release and mcu builds) and wasm3
(the mcu build, as on a microcontroller, and the release build)."""
import copy

import pytest
from runtimes import WASM3_STACK, Wasm3Host, WasmtimeHost, build
from vectors import Mismatch, load_vectors, replay

VECTORS = load_vectors()


def run_all(make_host, target):
    wasm = build(target)
    for v in VECTORS:
        replay(v, make_host(wasm, WASM3_STACK[target]) if make_host is Wasm3Host else make_host(wasm), target)
    return len(VECTORS)


@pytest.mark.parametrize("target", ["release", "mcu"])
def test_wasmtime_replays_every_vector(target, capsys):
    n = run_all(WasmtimeHost, target)
    with capsys.disabled():
        print(f"\nwasmtime {target}: {n} vectors passed")
    assert n >= 300


@pytest.mark.parametrize("target", ["mcu", "release"])
def test_wasm3_replays_every_vector(target, capsys):
    n = run_all(Wasm3Host, target)
    with capsys.disabled():
        print(f"\nwasm3 {target}: {n} vectors passed")
    assert n >= 300


def test_mcu_refuses_only_configurations_beyond_two_pages():
    refused = [v["name"] for v in VECTORS if v["mcu"] == "no_memory"]
    assert 0 < len(refused) < 10, refused


@pytest.mark.parametrize("make_host", [WasmtimeHost, Wasm3Host], ids=["wasmtime", "wasm3"])
def test_a_changed_byte_is_caught(make_host):
    v = copy.deepcopy(next(v for v in VECTORS if any(s.get("drain") and s["expect"] for s in v["steps"])))
    step = next(s for s in v["steps"] if s.get("drain") and s["expect"])
    step["expect"] = ("1" if step["expect"][0] == "0" else "0") + step["expect"][1:]
    with pytest.raises(Mismatch, match="drained"):
        replay(v, make_host(build("mcu")), "mcu")
