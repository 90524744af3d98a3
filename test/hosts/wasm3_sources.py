"""wasm3's C sources, as the pinned pywasm3 sdist ships them (the version the Python hosts run),
for the hosts built from C (test_embed_c.py, test_mcu.py). Fetched from PyPI once into a cache
directory and reused, so later runs need no network; the sdist's sha256 is pinned, so a cached or
fetched file that differs is refused rather than built."""
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.5.0"
SDIST = f"pywasm3-{VERSION}.tar.gz"
SHA256 = "5a47c8a39f7f6ae71b3316b2e5d86c9d0db6e771a65f09a86e4d4aa3a19aefcc"
# Outside the repo and outside .venv (which test/setup.mjs rebuilds): a per-user cache.
CACHE = Path(os.environ.get("WASM_SSE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wasm-sse")


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wasm3_sources():
    """The directory holding wasm3's .c and .h files, extracted under CACHE."""
    src = CACHE / f"pywasm3-{VERSION}" / "wasm3"
    if (src / "wasm3.h").exists():
        return src
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / SDIST
    if not sdist.exists() or _sha256(sdist) != SHA256:
        sdist.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        f"pywasm3=={VERSION}", "-d", str(CACHE)], check=True, timeout=300)
        if _sha256(sdist) != SHA256:
            sdist.unlink()
            raise RuntimeError(f"{SDIST} from PyPI does not have the pinned sha256 {SHA256}")
    # Extracted beside, then renamed: an interrupted run leaves no half tree that looks complete.
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp, filter="data")
    shutil.rmtree(src.parent, ignore_errors=True)
    (tmp / src.parent.name).rename(src.parent)
    tmp.rmdir()
    return src
