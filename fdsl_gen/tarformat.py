"""The encoder's second half: samples (key, png, meta) -> the bytes of one WebDataset tar, and reading one back."""
import io
import json
import tarfile
from pathlib import Path


def tar_bytes(samples):
    """A WebDataset tar of (key, png, meta) samples: members cls, json, png per key.

    The bytes are those of webdataset's `TarWriter(mtime=0)` (a test holds
    them equal), written directly: tarfile's per-member overhead was a tenth
    of the render time.
    """
    return b"".join(tar_blocks(samples))


def tar_blocks(samples):
    """The bytes of tar_bytes(samples) as pieces in order: per sample, its small members and the PNG's header
    joined, then the PNG as it is, then its padding. A shard is written and hashed piece by piece, never
    joined into one copy of the whole of it (40 MB for 1000 images of 512 px, in fresh memory: that copy
    cost more than writing the shard); the small pieces are joined to keep the pieces few."""
    blocks = []
    for key, png, meta in samples:
        head = b"".join((_member(f"{key}.cls", str(meta["cls"]).encode()),
                         _member(f"{key}.json", _SAMPLE_JSON.encode(meta).encode()),
                         _ustar_header(f"{key}.png", len(png))))
        blocks += [head, png, _padding(len(png))]
    size = sum(map(len, blocks)) + 1024
    blocks.append(b"\0" * (1024 + -size % _RECORD))  # the end blocks and the padding
    return blocks


def _member(name, data):
    """A member's header, data and padding."""
    return _ustar_header(name, len(data)) + data + _padding(len(data))


def _padding(size):
    """The zeros after `size` bytes of member data up to a whole 512-byte block."""
    return b"\0" * (-size % 512)


# json.dumps(meta, sort_keys=True), less the encoder it builds per call (a third of its time for a sample's json)
_SAMPLE_JSON = json.JSONEncoder(sort_keys=True)
_RECORD = 10240  # tarfile pads a stream to whole records of 20 blocks
_OWNER = b"bigdata".ljust(32, b"\0")  # webdataset's default user and group names
# The header's fields around the name (0:100), the size (124:136) and the checksum (148:156), which are the
# same in every member: mode 0444, uid and gid 0; mtime 0; then type, link name, magic, owners, devices, prefix.
_IDS = b"0000444\0" b"0000000\0" b"0000000\0"
_MTIME = b"00000000000\0"
_TAIL = b"".join((b"0", b"\0" * 100, b"ustar\x0000", _OWNER, _OWNER, b"\0" * 16, b"\0" * 155)).ljust(356, b"\0")
# their share of the checksum, which counts its own field as 8 spaces: summing only the name and the size
# per member makes a header in a third of the time of summing all 512 bytes
_FIXED_SUM = sum(_IDS) + sum(_MTIME) + sum(_TAIL) + 8 * ord(" ")


def _ustar_header(name, size):
    """The 512-byte ustar header tarfile writes for a regular file with mode 0444 and mtime 0."""
    raw = name.encode()
    if len(raw) > 100:
        raise ValueError(f"tar member name too long: {name}")
    return _header(raw, size)


def _header(raw, size):
    """The header of member `raw` (its name, bytes of at most 100) of `size` bytes."""
    size_field = b"%011o\0" % size
    checksum = _FIXED_SUM + sum(raw) + sum(size_field)
    return b"".join((raw.ljust(100, b"\0"), _IDS, size_field, _MTIME, b"%06o\0 " % checksum, _TAIL))


def iter_samples(source):
    """(key, {field: bytes}) of a shard tar (a path or bytes), in order; raises tarfile.TarError if broken."""
    current, fields = None, {}
    for name, data in _members(source):
        key, _, field = name.partition(".")
        if key != current and current is not None:
            yield current, fields
            fields = {}
        current = key
        fields[field] = data
    if current is not None:
        yield current, fields


def _members(source):
    """(name, bytes) of every member of a tar (a path or bytes), in order.

    The headers are read one by one as the members are taken, so that a reader that stops early (a
    contact sheet) reads the head of a shard only. At the first header that tar_bytes would not write
    (compression, long names, pax, damage) tarfile reads the tar from its start, with its checks and
    errors, and the members already taken are skipped: the members and errors are tarfile's throughout.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    taken = 0
    for member in _plain_members(data):
        if member is None:
            break
        name, start, end = member
        yield name, data[start:end]
        taken += 1
    else:
        return
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for index, member in enumerate(tar):
            if index >= taken:
                yield member.name, tar.extractfile(member).read()


def _plain_members(data):
    """(name, start, end) of each member of a tar as tar_bytes writes it (regular files under sound ustar
    headers, then its end block), in order, up to the end block; None, last, at the first header that is
    not one of those or when the data ends before the end block. Reading the headers here takes a tenth
    of tarfile's time, which re-reading a shard just written would otherwise spend."""
    at = 0
    while at + 512 <= len(data):
        header = data[at:at + 512]
        if header == _EMPTY_BLOCK:
            return
        raw = header[:100].split(b"\0", 1)[0]
        size = _octal(header[124:136])
        start = at + 512
        # a header as tar_bytes writes it is sound: comparing it takes a third of the time of summing its 512 bytes
        if size is None or start + size > len(data) or header != _header(raw, size) and not _sound(header):
            break
        yield raw.decode("utf-8", "surrogateescape"), start, start + size
        at = start + size + (-size % 512)
    yield None


def _sound(header):
    """Whether a header is a ustar header of a regular file, with no name prefix and a right checksum."""
    return (header[257:263] == b"ustar\0" and header[156:157] in (b"0", b"\0") and header[345] == 0
            and _checksum(header) == _octal(header[148:156]))


_EMPTY_BLOCK = bytes(512)


def _checksum(header):
    """The ustar header checksum: its bytes summed with the checksum field read as 8 spaces."""
    return sum(header) - sum(header[148:156]) + 8 * 32


def _octal(field):
    """The number in a NUL- or space-ended octal header field, or None when it holds none."""
    try:
        return int(field.split(b"\0", 1)[0] or b"0", 8)
    except ValueError:
        return None
