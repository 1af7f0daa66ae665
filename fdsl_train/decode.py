"""Decode shard samples (png + cls) into PIL images and labels, counting the bad ones.

Shards store single-channel PNGs (grey or a grey palette). They decode to
mode "L" and stay grey through the PIL stages of the transforms, which then
hand three equal channels to the model (fdsl_train.transforms); anything in
colour decodes to "RGB".
"""
import io
from typing import Iterable, Iterator, List, Tuple

from PIL import Image


class Tally:
    """Descriptions of the samples and shards a reader had to skip since the last drain."""

    def __init__(self) -> None:
        self.skipped: List[str] = []

    def handler(self, err: Exception) -> bool:
        """webdataset exception handler: note the error and keep reading."""
        self.skipped.append(f"unreadable shard data: {err.args[0] if err.args else err!r}")
        return True

    def drain(self) -> List[str]:
        skipped, self.skipped = self.skipped, []
        return skipped


def is_grey(image: Image.Image) -> bool:
    if image.mode in ("L", "1"):
        return True
    if image.mode != "P":
        return False
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def decode_image(data: bytes) -> Image.Image:
    """A grey image as mode "L", anything else as "RGB"."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("L" if is_grey(image) else "RGB")


def decode_label(sample: dict) -> int:
    return int(sample["cls"])


def decode_samples(samples: Iterable[dict], tally: Tally) -> Iterator[Tuple[Image.Image, int]]:
    """Stage: raw tar samples -> (PIL image, label); undecodable samples are noted in `tally`."""
    for sample in samples:
        try:
            yield decode_image(sample["png"]), decode_label(sample)
        except (KeyError, ValueError, OSError, SyntaxError) as err:
            # PIL raises OSError/SyntaxError for broken files, int() ValueError for a bad cls
            where = f"{sample.get('__url__', '?')}:{sample.get('__key__', '?')}"
            tally.skipped.append(f"corrupt sample {where} ({type(err).__name__})")
