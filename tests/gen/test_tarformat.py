import io
import json
import tarfile

import pytest
import webdataset as wds

from fdsl_gen.tarformat import _plain_members, iter_samples, tar_blocks, tar_bytes


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


@pytest.mark.parametrize("count,size", [(1, 0), (3, 511), (25, 10_000)])
def test_tar_blocks_are_the_tar_in_pieces_with_the_pngs_not_copied(count, size):
    given = samples(count, size)
    blocks = tar_blocks(given)
    assert b"".join(blocks) == tar_bytes(given)
    assert all(any(block is png for block in blocks) for _, png, _ in given)


def test_tar_reads_back_with_tarfile():
    with tarfile.open(fileobj=io.BytesIO(tar_bytes(samples(5)))) as tar:
        members = tar.getmembers()
        assert [m.name for m in members[:3]] == ["000000000.cls", "000000000.json", "000000000.png"]
        assert tar.extractfile(members[3]).read() == b"1"
        assert all(m.mode == 0o444 and m.mtime == 0 and m.uname == "bigdata" for m in members)


def read_plainly(data):
    """Whether every header of a tar is read without tarfile (the reader's last answer is None otherwise)."""
    return None not in list(_plain_members(data))


def tarfile_samples(data):
    """(key, {field: bytes}) of a tar as tarfile reads it, grouped by key."""
    grouped = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            key, _, field = member.name.partition(".")
            grouped.setdefault(key, {})[field] = tar.extractfile(member).read()
    return list(grouped.items())


@pytest.mark.parametrize("count,size", [(1, 0), (3, 511), (40, 700)])
def test_iter_samples_reads_what_tarfile_reads(tmp_path, count, size):
    data = tar_bytes(samples(count, size))
    assert read_plainly(data)  # the headers tar_bytes writes are read without tarfile
    (tmp_path / "shard.tar").write_bytes(data)
    assert list(iter_samples(data)) == list(iter_samples(tmp_path / "shard.tar")) == tarfile_samples(data)


def test_iter_samples_reads_plain_ustar_tars_of_other_writers_without_tarfile():
    """Headers with another mode, owner and mtime than tar_bytes writes are checked field by field, and read."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for field, data in (("cls", b"3"), ("png", b"\x89PNG" * 300)):
            info = tarfile.TarInfo(f"000000001.{field}")
            info.size, info.mode, info.mtime, info.uname = len(data), 0o644, 1_700_000_000, "someone"
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    assert read_plainly(data)
    assert list(iter_samples(data)) == tarfile_samples(data) == [("000000001", {"cls": b"3", "png": b"\x89PNG" * 300})]


@pytest.mark.parametrize("form", ["pax", "gzip", "long name"])
def test_iter_samples_reads_other_tars_through_tarfile(form):
    buffer = io.BytesIO()
    name = "k" * 120 if form == "long name" else "000000001"
    mode, options = ("w:gz", {}) if form == "gzip" else ("w", {"format": tarfile.PAX_FORMAT})
    with tarfile.open(fileobj=buffer, mode=mode, **options) as tar:
        for field, data in (("cls", b"3"), ("png", b"\x89PNG" * 300)):
            info = tarfile.TarInfo(f"{name}.{field}")
            info.size = len(data)
            if form == "pax":
                info.pax_headers = {"comment": "written by another tool"}
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    assert not read_plainly(data)
    assert list(iter_samples(data)) == [(name, {"cls": b"3", "png": b"\x89PNG" * 300})]


@pytest.mark.parametrize("damage", ["checksum", "truncated"])
def test_iter_samples_leaves_damaged_tars_to_tarfile(damage):
    data = tar_bytes(samples(3, 600))
    damaged = data[:148] + b"0000000\0" + data[156:] if damage == "checksum" else data[:3000]
    assert not read_plainly(damaged)
    with pytest.raises(tarfile.ReadError):
        list(iter_samples(damaged))


def test_a_tar_read_plainly_up_to_a_member_tarfile_must_read_gives_tarfiles_members():
    """Two plain members, then one of the same sample under a pax header (a long name): tarfile takes over at
    the third member, and the sample gets all three."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members = (("000000001.cls", b"3"), ("000000001.png", b"\x89PNG" * 300), ("000000001." + "x" * 110, b"4"))
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    assert [m and m[0] for m in _plain_members(data)] == ["000000001.cls", "000000001.png", None]
    assert list(iter_samples(data)) == tarfile_samples(data) == [
        ("000000001", {"cls": b"3", "png": b"\x89PNG" * 300, "x" * 110: b"4"})]


def test_a_tar_cut_inside_a_header_gives_the_samples_before_it_as_tarfile_does():
    data = tar_bytes(samples(3, 600))[:2 * 3584 + 100]  # 3584 bytes a sample: three headers, cls, json, png
    assert list(iter_samples(data)) == tarfile_samples(data) == tarfile_samples(tar_bytes(samples(2, 600)))


def test_a_tar_cut_inside_a_member_gives_the_samples_before_it_then_tarfiles_error():
    data = tar_bytes(samples(3, 600))[:2 * 3584 + 800]  # cut in the padding after the third sample's cls
    with pytest.raises(tarfile.ReadError):
        tarfile_samples(data)
    read = iter_samples(data)
    assert [next(read), next(read)] == tarfile_samples(tar_bytes(samples(2, 600)))
    with pytest.raises(tarfile.ReadError):
        next(read)
