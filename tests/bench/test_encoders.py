"""bench/encoders.py --digests: one sha256 per back-end and setting over stored scanlines, each output round-tripped."""
import hashlib
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from zlib_ng import zlib_ng

from fdsl_gen.encode import ANY_GREY, scanlines

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "encoders.py"


def test_digests_name_every_zlib_ng_setting_and_match_its_output(tmp_path):
    rng = np.random.default_rng(0)
    drawing = np.full((40, 50), 255, np.uint8)
    drawing[rng.integers(0, 40, 200), rng.integers(0, 50, 200)] = rng.integers(0, 255, 200)
    rows = scanlines(drawing, ANY_GREY).rows.tobytes()
    stored = tmp_path / "rows.pkl"
    stored.write_bytes(pickle.dumps({"rcdb": ("8-bit grey", [rows])}))
    run = subprocess.run([sys.executable, SCRIPT, "--digests", stored], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    found = dict(line.split(": ") for line in run.stdout.splitlines() if ": " in line)
    assert found["zlib-ng 1"] == hashlib.sha256(zlib_ng.compress(rows, 1)).hexdigest()
    stream = zlib_ng.compressobj(1, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS, zlib_ng.DEF_MEM_LEVEL, zlib_ng.Z_RLE)
    assert found["zlib-ng rle 1"] == hashlib.sha256(stream.compress(rows) + stream.flush()).hexdigest()
    assert {"zlib-ng 2", "zlib-ng 6", "zlib-ng huffman 1", "zlib 1"} <= found.keys()
