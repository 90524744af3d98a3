"""The firmware's call scripts (format: test/embed/mcu/host.c): the conformance vectors, and the
calls issue 13 lists and the events it times (the demo), written as vectors (test/vectors/format.ts)
with tapes built by hand from build/wasm_sse.h's tags, as a C embedder would."""
import re
import struct

from runtimes import ROOT

SSE = {m[1]: int(m[2], 0) for m in re.finditer(r"#define SSE_(\w+) \(?(-?\w+)\)?", (ROOT / "build" / "wasm_sse.h").read_text())}
H = 65536  # the first connection's handle: row 0, generation 1


def _str(tag, s):
    b = s.encode()
    return bytes([tag]) + struct.pack("<I", len(b)) + b


def record(*members):
    """A JSON object tape: (key, value) pairs, values int (i32), float, str or bool."""
    t = bytes([SSE["TAG_OBJECT"]])
    for k, v in members:
        t += _str(SSE["TAG_KEY8"], k)
        if isinstance(v, bool):
            t += bytes([SSE["TAG_TRUE"] if v else SSE["TAG_FALSE"]])
        elif isinstance(v, int):
            t += bytes([SSE["TAG_INT32"]]) + struct.pack("<i", v)
        elif isinstance(v, float):
            t += bytes([SSE["TAG_NUMBER"]]) + struct.pack("<d", v)
        else:
            t += _str(SSE["TAG_STR8"], v)
    return t + bytes([SSE["TAG_OBJECT_END"]])


class Steps(list):
    def send(self, flags, event=b"", id=b"", data=b"", retry=0):
        e, i, d = (x.encode() if isinstance(x, str) else x for x in (event, id, data))
        self.append({"call": "send", "args": [H, flags, len(e), len(i), len(d), retry], "stage": (e + i + d).hex()})

    def drain(self, *chunks):
        self.append({"drain": H, "chunks": list(chunks or [64])})


BENCH = {  # what one event costs, each sent 21 times (the first compiles the functions it reaches)
    "counter": lambda k: (SSE["DATA_JSON"], "", "", record(("counter", k))),
    "text": lambda k: (SSE["HAS_EVENT"] | SSE["HAS_ID"], "update", "1234", "the quick brown fox jumps over"),
    "json": lambda k: (SSE["DATA_JSON"], "", "", record(("id", k), ("name", "sensor"), ("value", 21.5 + k / 8), ("ok", True))),
}
BENCH_REPEAT = 21


def demo():
    """Issue 13's calls, in order; the refusals (CR in an event name, NUL in an id, a frame larger
    than the connection's 512 bytes) must write nothing, so the last drain gets nothing."""
    s = Steps([{"call": "init", "args": [4, 512, 1024, 15000]}, {"call": "conn_open", "args": [-1]}])
    for i in range(10):  # the seed's counter
        s.send(SSE["DATA_JSON"], data=record(("counter", i)))
        s.drain(0)
    s.send(SSE["HAS_EVENT"], "comment", data="end")
    s.drain()
    s.send(SSE["HAS_EVENT"] | SSE["HAS_ID"], "update", "42", "hello, world")
    s.drain(7)
    s.send(0, data="line one\nline two\r\nline three\rline four")
    s.drain()
    s.send(SSE["DATA_JSON"] | SSE["HAS_ID"], id="43", data=record(("counter", 1), ("name", "x"), ("value", 2.5)))
    s.drain()
    s.send(SSE["HAS_RETRY"] | SSE["NO_DATA"], retry=3000)
    s.drain()
    s.append({"call": "tick", "args": [20000]})  # past the 15 s keep-alive: a comment frame
    s.append({"read": ["due_ptr", []], "len": 4})
    s.drain()
    s.send(SSE["HAS_EVENT"], "bad\rname", data="x")
    s.send(SSE["HAS_ID"], id="a\0b", data="x")
    s.send(0, data="x" * 600)
    s.drain()
    # Then the bench, in the same runtime: one configuration's RAM, as a product would have it.
    for make in BENCH.values():
        for k in range(BENCH_REPEAT):
            s.send(*make(k))
            s.drain(0)
    s.append({"call": "conn_close", "args": [H]})
    return {"name": "demo", "steps": s}




def _num(n):
    return float(n) if isinstance(n, str) else n


def encode(vectors):
    out = bytearray()
    name = lambda s: out.extend(bytes([len(s)]) + s.encode())
    f64s = lambda xs: out.extend(bytes([len(xs)]) + b"".join(struct.pack("<d", _num(x)) for x in xs))
    for v in vectors:
        out += b"V" + struct.pack("<H", len(v["name"].encode())) + v["name"].encode()
        for s in v["steps"]:
            if "call" in s:
                stage = bytes.fromhex(s.get("stage", ""))
                out += b"C"
                name(s["call"])
                f64s(s["args"])
                out += struct.pack("<I", len(stage)) + stage
            elif "drain" in s:
                out += b"D" + struct.pack("<IB", s["drain"], len(s["chunks"]))
                out += b"".join(struct.pack("<I", c) for c in s["chunks"]) + struct.pack("<I", s.get("max", 0xFFFFFFFF))
            else:
                out += b"R"
                name(s["read"][0])
                f64s(s["read"][1])
                if isinstance(s["len"], int):
                    out += b"\0" + struct.pack("<I", s["len"])
                else:
                    out += b"\1"
                    name(s["len"][0])
                    f64s(s["len"][1])
    return bytes(out + b"E")
