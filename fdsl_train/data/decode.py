"""Decode samples into PIL images and labels, counting the bad ones.

A sample is a dict, as a reader gives it (fdsl_train.data.loader): a shard
file's holds `png` bytes, a rendered one (fdsl_train.data.live) an `image` array;
both hold the label, `cls`. Shards store single-channel PNGs (grey or a grey
palette). They decode to mode "L" and stay grey through the PIL stages of the
transforms, which then hand three equal channels to the model
(fdsl_train.data.transforms); anything in colour decodes to "RGB". A rendered
HxW array becomes an "L" image and an HxWx3 one "RGB", as their PNGs decode.
"""
import io
from typing import Iterable, Iterator, List, Optional, Tuple

from PIL import Image

from fdsl_train.data.tally import Tally


def grey_palette(image: Image.Image) -> Optional[List[int]]:
    """The grey level of each palette index of a "P" image whose palette is all grey, else None."""
    palette = image.getpalette() if image.mode == "P" else None
    if not palette or any(palette[i] != palette[i + 1] or palette[i] != palette[i + 2]
                          for i in range(0, len(palette) - 2, 3)):
        return None
    levels = palette[0::3]
    return levels + [0] * (256 - len(levels))


def decode_image(data: bytes) -> Image.Image:
    """A grey image as mode "L", anything else as "RGB"."""
    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("L", "1"):
            return image.convert("L")
        levels = grey_palette(image)
        if levels is None:
            return image.convert("RGB")
        # the palette indices as grey values, mapped: twice as fast as Pillow's P -> L conversion
        indices = Image.frombuffer("L", image.size, image.tobytes(), "raw", "L", 0, 1)
        return indices.point(levels)


def load_image(path: str) -> Image.Image:
    """An image file, as decode_image gives it: ImageFolder's loader."""
    with open(path, "rb") as file:
        return decode_image(file.read())


def decode_label(sample: dict) -> int:
    return int(sample["cls"])


def decode_samples(samples: Iterable[dict], tally: Tally) -> Iterator[Tuple[Image.Image, int]]:
    """Stage: samples -> (PIL image, label); undecodable samples are noted in `tally`."""
    for sample in samples:
        try:
            image = Image.fromarray(sample["image"]) if "image" in sample else decode_image(sample["png"])
            yield image, decode_label(sample)
        except (KeyError, ValueError, OSError, SyntaxError) as err:
            # PIL raises OSError/SyntaxError for broken files, int() ValueError for a bad cls
            tally.sample(sample.get("__url__", "?"), sample.get("__key__", "?"), type(err).__name__)
