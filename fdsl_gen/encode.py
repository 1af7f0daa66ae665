"""PNG encoding in the fewest bytes that decode to the same pixels, the same bytes on every machine.

Two-level grey images (FractalDB's 0 and 127, edge maps, point clouds) are
written as 1-bit palette PNGs: bit-packing plus one deflate call, several
times faster than a general encoder and smaller than 8-bit grey.
`Image.open(...).convert("L")` (or "RGB", as timm does) gives back the exact
grey levels. Up to 16 grey levels become a 2- or 4-bit palette, more an 8-bit
`L` image; colour images a palette when they have at most 256 colours, else RGB.

Every PNG is written here, deflated by zlib-ng (the `zlib-ng` wheel, which
bundles it), never by the zlib that Python or Pillow link: those differ from
one machine to the next (zlib-ng-compat gives other bytes), and the wheel's
output depends only on its version and settings, not on the CPU
(BENCHMARKS.md, "PNG encoder"). Against libdeflate, which wrote them
before, zlib-ng's run-length strategy writes 1-bit and palette images 1.3
to 3.9 times faster and, but for Bezier's, smaller; its level 1 writes
8-bit grey ones 1.6 to 1.7 times faster, with 11 to 65 % more bytes.
"""
import io
import struct
from typing import NamedTuple

import numpy as np
import zlib_ng
from PIL import Image
from zlib_ng.zlib_ng import (DEF_MEM_LEVEL, DEFLATED, MAX_WBITS, Z_RLE, ZLIBNG_RUNTIME_VERSION, compress,
                             compressobj, crc32)

# What shard bytes depend on besides fdsl's own code: the manifest records it. The library's version beside the
# package's: a package built against a system zlib-ng (as distributions build it) runs that library's code.
ENCODER = {"name": "zlib-ng", "package": "zlib-ng", "version": zlib_ng.__version__, "library": ZLIBNG_RUNTIME_VERSION}
# 8-bit grey images (contour datasets) are 8x the raw bytes of a 1-bit one:
# level 1 keeps them smaller than the reference's RGB PNGs at a fraction of
# level 6's time, which would otherwise be most of the render. RGB images too.
# 1-bit and palette images are runs of one byte: the run-length strategy
# (matches at distance 1 only, no search) codes them in about level 6's
# bytes (fewer for most families) in a quarter to a half of its time.
GREY_LEVEL = 1
# A grey image is a smooth field, not a drawing, when more than this share of its horizontal neighbours differ
# by 1 to 3 levels (Perlin noise: a third or more; contour drawings: 3 % at most).
SMOOTH_SHARE = 1 / 8
_UP = 2  # the PNG filter type Up
_GREY_TYPE = 0
_RGB_TYPE = 2
_PALETTE_TYPE = 3
# The `levels` hint of images that may hold any grey level (contour
# drawings): 8-bit grey straight away, without scanning for a palette.
ANY_GREY = tuple(range(256))
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Scanlines(NamedTuple):
    """A PNG before deflate: `rows` (filter byte, then the filtered pixels, per row) and the header fields."""
    rows: np.ndarray
    width: int
    bit_depth: int
    colour_type: int
    palette: bytes  # RGB triples, empty unless colour_type is a palette

    def deflate(self):
        """The zlib stream of the rows."""
        if self.colour_type != _PALETTE_TYPE:
            return compress(self.rows, GREY_LEVEL)
        stream = compressobj(1, DEFLATED, MAX_WBITS, DEF_MEM_LEVEL, Z_RLE)
        return stream.compress(self.rows) + stream.flush()


def describe(encoder):
    """'zlib-ng 1.1.0 (library 2.3.3)' for a manifest's `png_encoder` (records before the library's have none)."""
    library = f" (library {encoder['library']})" if "library" in encoder else ""
    return f"{encoder['package']} {encoder['version']}{library}"


def encode_png(image, levels=None, smooth=None):
    """uint8 HxW (grey) or HxWx3 (colour) array -> PNG bytes.

    `levels`, the sorted grey levels the image may hold, spares the scan for
    them when the caller knows (e.g. (0, 127) for a FractalDB canvas).
    `smooth` says whether an 8-bit grey image is a smooth field (True) or a
    drawing (False), sparing the test (`_smooth`) when the caller knows.
    """
    lines = scanlines(image, levels, smooth)
    return png_file(lines, lines.deflate())


def scanlines(image, levels=None, smooth=None):
    """The Scanlines that `encode_png` deflates."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        return _colour_lines(image)
    if levels is None:
        levels = np.flatnonzero(np.bincount(image.ravel(), minlength=256))
    else:
        check_levels(image, levels)
    if len(levels) <= 2:
        levels = list(levels) + [0] * (2 - len(levels))
        low = levels[0]
        bits = image != low if low else image
        return _lines(np.packbits(bits, axis=1), image.shape[1], 1, _PALETTE_TYPE, _grey_palette(levels))
    if len(levels) > 16:
        return _grey_lines(image, _smooth(image) if smooth is None else smooth)
    lut = np.zeros(256, np.uint8)
    lut[list(levels)] = np.arange(len(levels), dtype=np.uint8)
    return _palette_lines(lut[image], _grey_palette(levels))


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


def _grey_palette(levels):
    return np.repeat(np.asarray(levels, np.uint8), 3).tobytes()


def _colour_lines(image):
    """A palette of the image's colours when at most 256, else RGB rows."""
    flat = image.reshape(-1, 3)
    codes = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, index = np.unique(codes, return_inverse=True)
    if len(colours) > 256:
        return _lines(image.reshape(image.shape[0], -1), image.shape[1], 8, _RGB_TYPE)
    palette = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
    return _palette_lines(index.reshape(image.shape[:2]).astype(np.uint8), palette.tobytes())


def _palette_lines(index, palette):
    """Palette indices packed at the fewest bits (1, 2, 4 or 8) that hold every entry, as PNG readers expect."""
    count = len(palette) // 3
    bit_depth = next(bits for bits in (1, 2, 4, 8) if count <= 1 << bits)
    height, width = index.shape
    if bit_depth < 8:
        per_byte = 8 // bit_depth
        padded = np.zeros((height, -(-width // per_byte) * per_byte), np.uint8)
        padded[:, :width] = index
        shifts = np.arange(8 - bit_depth, -1, -bit_depth, dtype=np.uint8)
        index = np.bitwise_or.reduce(padded.reshape(height, -1, per_byte) << shifts, axis=2).astype(np.uint8)
    return _lines(index, width, bit_depth, _PALETTE_TYPE, palette)


def _lines(data, width, bit_depth, colour_type, palette=b""):
    """Rows of filter type 0 (none): on random patch bits, thin lines and sparse points filters gain little and
    cost time."""
    rows = np.empty((data.shape[0], data.shape[1] + 1), np.uint8)
    rows[:, 0] = 0
    rows[:, 1:] = data
    return Scanlines(rows, width, bit_depth, colour_type, palette)


def _grey_lines(image, smooth):
    """8-bit grey rows: a drawing's as they are (runs of the background, which deflate codes as matches), a smooth
    field's by the Up filter (each byte minus the one above: small numbers, 30 % fewer bytes than unfiltered)."""
    if not smooth:
        return _lines(image, image.shape[1], 8, _GREY_TYPE)
    rows = np.empty((image.shape[0], image.shape[1] + 1), np.uint8)
    rows[:, 0] = _UP
    rows[0, 1:] = image[0]
    np.subtract(image[1:], image[:-1], out=rows[1:, 1:])
    return Scanlines(rows, image.shape[1], 8, _GREY_TYPE, b"")


def _smooth(image):
    """Whether more than SMOOTH_SHARE of horizontal neighbours differ by 1 to 3 levels (every 4th row is enough)."""
    sample = image[::4]
    step = sample[:, 1:] - sample[:, :-1]  # uint8: -1 is 255
    near = np.count_nonzero((step + np.uint8(3)) <= 6) - np.count_nonzero(step == 0)
    return near > SMOOTH_SHARE * step.size


def png_file(lines, idat):
    """The PNG file of `lines` whose deflated rows (a zlib stream) are `idat`."""
    header = struct.pack(">IIBBBBB", lines.width, lines.rows.shape[0], lines.bit_depth, lines.colour_type, 0, 0, 0)
    palette = _chunk(b"PLTE", lines.palette) if lines.palette else b""
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), palette, _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc32(kind + data))


def decode_png(data, mode="L"):
    """PNG bytes -> uint8 array in `mode` ("L" or "RGB")."""
    with Image.open(io.BytesIO(data)) as pil:
        return np.asarray(pil.convert(mode))
