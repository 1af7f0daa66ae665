"""PNG encoding in the fewest bytes that decode to the same pixels.

Two-level grey images (FractalDB's 0 and 127, edge maps, point clouds) are
written as 1-bit palette PNGs by a small chunk writer: bit-packing plus one
zlib call, several times faster than a general encoder and smaller than 8-bit
grey. `Image.open(...).convert("L")` (or "RGB", as timm does) gives back the
exact grey levels. Up to 16 grey levels become a 2- or 4-bit palette, more an
8-bit `L` image; colour images a palette when they have at most 256 colours,
else RGB.
"""
import io
import struct
import zlib

import numpy as np
from PIL import Image

ZLIB_LEVEL = 6
# 8-bit grey images (contour datasets) are 8x the raw bytes of a 1-bit one:
# level 1 keeps them smaller than the reference's RGB PNGs at a quarter of
# level 6's time, which would otherwise be most of the render.
GREY_ZLIB_LEVEL = 1
_GREY_TYPE = 0
# The `levels` hint of images that may hold any grey level (contour
# drawings): 8-bit grey straight away, without scanning for a palette.
ANY_GREY = tuple(range(256))
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE_TYPE = 3


def encode_png(image, levels=None):
    """uint8 HxW (grey) or HxWx3 (colour) array -> PNG bytes.

    `levels`, the sorted grey levels the image may hold, spares the scan for
    them when the caller knows (e.g. (0, 127) for a FractalDB canvas).
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        return _pil_png(_colour_image(image))
    if levels is None:
        levels = np.flatnonzero(np.bincount(image.ravel(), minlength=256))
    else:
        check_levels(image, levels)
    if len(levels) <= 2:
        return _bilevel_png(image, levels)
    if len(levels) > 16:
        return _grey_png(image)
    return _pil_png(_palette_image(image, levels))


def check_levels(image, levels):
    """Refuse an image with a grey level outside the `levels` hint: the 1-bit
    path would map it to the high level and change the pixels unseen."""
    if len(levels) >= 256:
        return
    if len(levels) <= 2:
        inside = sum(np.count_nonzero(image == level) for level in set(levels))
    else:
        allowed = np.zeros(256, bool)
        allowed[list(levels)] = True
        inside = np.count_nonzero(allowed[image])
    if inside != image.size:
        found = np.flatnonzero(np.bincount(image.ravel(), minlength=256)).tolist()
        raise ValueError(f"image holds grey levels {found}, outside the levels hint {list(levels)}")


def _bilevel_png(image, levels):
    levels = list(levels) + [0] * (2 - len(levels))
    low, high = levels[0], levels[1]
    bits = image != low if low else image
    palette = _chunk(b"PLTE", bytes([low] * 3 + [high] * 3))
    return _png(np.packbits(bits, axis=1), image.shape[1], 1, _PALETTE_TYPE, ZLIB_LEVEL, palette)


def _grey_png(image):
    return _png(image, image.shape[1], 8, _GREY_TYPE, GREY_ZLIB_LEVEL)


def _png(data, width, bit_depth, colour_type, level, palette=b""):
    """A PNG of row bytes `data`; every row gets filter type 0 (none): on random
    patch bits and thin lines filters gain little and cost time."""
    rows = np.zeros((data.shape[0], data.shape[1] + 1), np.uint8)
    rows[:, 1:] = data
    header = struct.pack(">IIBBBBB", width, data.shape[0], bit_depth, colour_type, 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), palette,
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)), _chunk(b"IEND", b"")))


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _palette_image(image, levels):
    lut = np.zeros(256, np.uint8)
    lut[levels] = np.arange(len(levels), dtype=np.uint8)
    pil = Image.fromarray(lut[image], mode="P")
    pil.putpalette(np.repeat(np.asarray(levels, np.uint8), 3).tobytes(), rawmode="RGB")
    return pil


def _colour_image(image):
    flat = image.reshape(-1, 3)
    codes = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, index = np.unique(codes, return_inverse=True)
    if len(colours) > 256:
        return Image.fromarray(image, mode="RGB")
    palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
    pil = Image.fromarray(index.reshape(image.shape[:2]).astype(np.uint8), mode="P")
    pil.putpalette(palette.tobytes(), rawmode="RGB")
    return pil


def _pil_png(pil):
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", compress_level=ZLIB_LEVEL)
    return buffer.getvalue()


def decode_png(data, mode="L"):
    """PNG bytes -> uint8 array in `mode` ("L" or "RGB")."""
    with Image.open(io.BytesIO(data)) as pil:
        return np.asarray(pil.convert(mode))
