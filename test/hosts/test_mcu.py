"""The core on a microcontroller: wasm3 and build/sse-mcu.wasm as Cortex-M4 firmware
(test/embed/mcu) for an STM32F405 board (netduinoplus2) under qemu-system-arm, within the part's
192 KiB of RAM and a 256 KiB flash budget. The firmware replays call scripts at the raw ABI; its
UART bytes must be the bytes V8 frames for the same script (test/embed/mcu/replay-v8.mjs)."""
import re
import shutil
import statistics
import subprocess

import pytest

from mcu_script import BENCH, BENCH_REPEAT, demo, encode
from runtimes import BUILDS, ROOT
from vectors import load_vectors
from wasm3_sources import wasm3_sources

FW = ROOT / "test" / "embed" / "mcu"
KIB = 1024
RAM, FLASH = 192 * KIB, 256 * KIB
TOOLS = ["arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "make", "node"]

# The vectors whose replay differs, and why. Each of these configurations needs the mcu build's
# second 64 KiB page: V8 grows into it, but growing makes wasm3 realloc linear memory to 128 KiB,
# which needs that much contiguous heap beside the 64 KiB page it is leaving and the runtime, more
# than 192 KiB of RAM holds, so init says NO_MEMORY (-6) on the firmware.
NEEDS_A_SECOND_PAGE = {
    "init/config/4x16384+4096@0",
    "init/config/4x24576+4096@15000",
    "init/config/16x4096+8192@30000",
    "init/config/64x1024+2048@15000",
    "init/config/100x512+256@1",
    "init/config/300x16+256@0",
}
# This one asks for more than two pages ("mcu": "no_memory"): init says NO_MEMORY on both sides;
# the vector format stops the replay there, and the two differ only in a read after it.
BEYOND_TWO_PAGES = {"history/beyond-two-pages"}

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs " + ", ".join(t for t in TOOLS if shutil.which(t) is None)
    + " (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm; node test/setup.mjs installs them)",
)


class Run:
    """One firmware run and V8's replay of the same script."""

    def __init__(self, work, name, vectors, wasm3):
        script = work / f"{name}.bin"
        script.write_bytes(encode(vectors))
        subprocess.run(["make", "-s", "-j2", "-C", str(FW), f"W3={wasm3}", f"O={work}", f"NAME={name}",
                        f"SCRIPT={script}", f"WASM={BUILDS['mcu']}"], check=True, timeout=600)
        self.elf = work / f"{name}.elf"
        uart1, uart2 = work / f"{name}.uart1", work / f"{name}.uart2"
        # -icount shift=0: one instruction per nanosecond of virtual time, which TIM2 counts.
        # Semihosting carries the firmware's exit code out; the timeout bounds a hung firmware.
        r = subprocess.run(["qemu-system-arm", "-M", "netduinoplus2", "-display", "none", "-monitor", "none",
                            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
                            "-serial", f"file:{uart1}", "-serial", f"file:{uart2}", "-kernel", str(self.elf)],
                           capture_output=True, timeout=300)
        self.exit = r.returncode
        self.stream = uart1.read_bytes()
        report = uart2.read_text()
        self.figures = {m[1]: int(m[2]) for m in re.finditer(r"^= (\w+) (\d+)$", report, re.M)}
        self.transcript = [line for line in report.splitlines() if not line.startswith("= ")]
        v8_stream, v8_transcript = work / f"{name}.v8-stream", work / f"{name}.v8-transcript"
        subprocess.run(["node", str(FW / "replay-v8.mjs"), str(BUILDS["mcu"]), str(script), str(v8_stream),
                        str(v8_transcript)], check=True, timeout=300)
        self.v8_stream = v8_stream.read_bytes()
        self.v8_transcript = v8_transcript.read_text().splitlines()

    def by_vector(self, instructions=False):
        """The transcripts per vector name: (firmware's lines, V8's lines)."""
        out = {}
        for side, lines in enumerate([self.transcript, self.v8_transcript]):
            for line in lines:
                if line.startswith("V "):
                    cur = out.setdefault(line[2:], ([], []))[side]
                else:
                    cur.append(line if instructions else re.sub(r" #\d+$", "", line))
        return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("mcu")
    wasm3 = wasm3_sources()
    return {"demo": Run(work, "demo", [demo()], wasm3), "vectors": Run(work, "vectors", load_vectors(), wasm3)}


def test_mcu_frames_the_demo_as_v8_does(runs):
    r = runs["demo"]
    assert (r.exit, r.figures["fails"]) == (0, 0), r.transcript[-5:]
    assert r.stream == r.v8_stream
    assert r.by_vector()["demo"][0] == r.by_vector()["demo"][1]
    assert r.stream.startswith(b'data: {"counter":0}\n\n')
    assert b'id: 43\ndata: {"counter":1,"name":"x","value":2.5}\n\nretry: 3000\n\n:\n' in r.stream
    assert [line for line in r.by_vector()["demo"][0] if line.startswith("C send -")] == \
        ["C send -10", "C send -11", "C send -13"]  # EVENT_NAME, ID, TOO_LARGE: and nothing written


def test_mcu_replays_the_vectors_as_v8_does(runs):
    r = runs["vectors"]
    assert (r.exit, r.figures["fails"]) == (0, 0), r.transcript[-5:]
    vectors = r.by_vector()
    assert len(vectors) == len(load_vectors())
    differ = {name for name, (fw, v8) in vectors.items() if fw != v8}
    assert differ == NEEDS_A_SECOND_PAGE | BEYOND_TWO_PAGES
    for name in NEEDS_A_SECOND_PAGE:
        assert vectors[name][0][0] == "C init -6" and vectors[name][1][0] == "C init 0"


def test_mcu_fits_the_budgets(runs, report):
    r = runs["demo"]
    size = subprocess.run(["arm-none-eabi-size", "-A", str(r.elf)], capture_output=True, text=True, check=True).stdout
    sec = {m[1]: int(m[2]) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+$", size, re.M)}
    # .data's initial values are in flash too.
    flash = sec[".text"] + sec[".wasm"] + sec.get(".ARM.exidx", 0) + sec[".data"]
    static = sec[".data"] + sec[".bss"]
    heap, stack = r.figures["heap_high_water"], r.figures["stack_peak"]
    ram = static + heap + stack
    # The demo ends with the bench's sends, then conn_close.
    sends = [int(m[1]) for m in re.finditer(r"^C send -?\d+ #(\d+)$", "\n".join(r.by_vector(True)["demo"][0]), re.M)]
    sends = sends[-len(BENCH) * BENCH_REPEAT:]
    # The first of each kind also compiles the functions it reaches (wasm3 compiles lazily).
    per_event = {kind: statistics.median(sends[i * BENCH_REPEAT + 1:(i + 1) * BENCH_REPEAT]) for i, kind in enumerate(BENCH)}
    k = lambda n: f"{n / KIB:7.1f} KiB"
    table = "\n".join([
        "mcu firmware (wasm3 + build/sse-mcu.wasm, Cortex-M4, netduinoplus2 under QEMU; the demo's configuration):",
        f"  flash  code + rodata (wasm3, host, newlib) {k(flash - sec['.wasm'])}",
        f"         the wasm module                     {k(sec['.wasm'])}",
        f"         total                               {k(flash)}  (budget {k(FLASH).strip()})",
        f"  RAM    .data + .bss                        {k(static)}",
        f"         heap high-water (wasm3 + memory)    {k(heap)}  (malloc in use at most {k(r.figures['heap_in_use_max']).strip()})",
        f"         C stack peak                        {k(stack)}",
        f"         total                               {k(ram)}  (budget {k(RAM).strip()})",
        "  instructions per send (median of 20, after the first)",
        *(f"         {kind:<36}{per_event[kind]:8.0f}" for kind in BENCH),
    ])
    (ROOT / "build" / "mcu-figures.txt").write_text(table + "\n")
    report(table)
    assert flash <= FLASH
    assert ram <= RAM
