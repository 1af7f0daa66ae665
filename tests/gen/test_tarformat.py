import io
import json
import tarfile

import pytest
import webdataset as wds

from fdsl_gen.tarformat import tar_bytes


def samples(count, size=700):
    return [(f"{i:09d}", bytes([i % 251]) * (size + i), {"cls": i % 7, "category": i % 7, "seed": 2**63 + i})
            for i in range(count)]


@pytest.mark.parametrize("count,size", [(1, 0), (3, 511), (40, 700), (25, 10_000)])
def test_tar_bytes_equal_webdataset_tarwriter(count, size):
    buffer = io.BytesIO()
    with wds.TarWriter(buffer, mtime=0, encoder=False) as sink:
        for key, png, meta in samples(count, size):
            sink.write({"__key__": key, "png": png, "cls": str(meta["cls"]).encode(),
                        "json": json.dumps(meta, sort_keys=True).encode()})
    assert tar_bytes(samples(count, size)) == buffer.getvalue()


def test_tar_reads_back_with_tarfile():
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(samples(5)))) as tar:
        members = tar.getmembers()
        assert [m.name for m in members[:3]] == ["000000000.cls", "000000000.json", "000000000.png"]
        assert tar.extractfile(members[3]).read() == b"1"
        assert all(m.mode == 0o444 and m.mtime == 0 and m.uname == "bigdata" for m in members)
