"""Convert IDX image sets (MNIST, Fashion-MNIST) into an ImageFolder tree of PNG files."""
import gzip
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from fdsl_train.errors import UserError

# IDX type codes: only unsigned bytes occur in the MNIST family
_UBYTE = 0x08


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) as an array of its declared shape."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != _UBYTE:
        raise UserError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path} holds {data.size} values, its header declares {shape}")
    return data.reshape(shape)


def idx_to_image_folder(images: Path, labels: Path, out: Path, limit: Optional[int] = None) -> int:
    """Write out/<label>/<index>.png for the first `limit` images; the number written."""
    pixels, classes = read_idx(images), read_idx(labels)
    if len(pixels) != len(classes):
        raise UserError(f"{images} has {len(pixels)} images but {labels} has {len(classes)} labels")
    count = len(pixels) if limit is None else min(limit, len(pixels))
    width = len(str(int(classes.max())))
    for index in range(count):
        folder = out / f"{int(classes[index]):0{width}d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels[index], "L").save(folder / f"{index:05d}.png")
    return count
