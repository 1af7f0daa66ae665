import io

import numpy as np
from PIL import Image

from fdsl_train.data.decode import decode_image, decode_samples, load_image
from fdsl_train.data.tally import Tally


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_grey_and_grey_palette_pngs_decode_grey():
    grey = Image.fromarray(np.array([[0, 127], [127, 0]], np.uint8), "L")
    two_colours = grey.convert("P", palette=Image.ADAPTIVE, colors=2)  # written as a 1-bit PNG
    assert png(two_colours)[24] == 1  # IHDR bit depth
    for image in (grey, grey.convert("P"), two_colours):
        decoded = decode_image(png(image))
        assert decoded.mode == "L"
        assert (np.asarray(decoded) == np.asarray(grey)).all()


def test_colour_pngs_decode_rgb():
    rgb = Image.fromarray(np.array([[[255, 0, 0], [0, 0, 0]]], np.uint8), "RGB")
    for image in (rgb, rgb.convert("P")):
        decoded = decode_image(png(image))
        assert decoded.mode == "RGB" and (np.asarray(decoded) == np.asarray(rgb)).all()


def test_bad_samples_are_skipped_and_described():
    good = {"__key__": "000000000", "png": png(Image.new("L", (4, 4))), "cls": b"3"}
    samples = [
        good,
        {"__key__": "000000001", "__url__": "s.tar", "png": b"junk", "cls": b"1"},
        {"__key__": "000000002", "png": good["png"], "cls": b"x"},
        {"__key__": "000000003", "cls": b"1"},
    ]
    tally = Tally()
    decoded = list(decode_samples(samples, tally))
    assert [label for _, label in decoded] == [3]
    skipped = tally.drain()
    assert len(skipped) == 3 and str(skipped[0]).startswith("corrupt sample s.tar:000000001")
    assert [(lost.key, lost.samples) for lost in skipped] == [("000000001", 1), ("000000002", 1), ("000000003", 1)]
    assert tally.drain() == []


def test_image_files_load_as_decode_image_gives_them(tmp_path):
    grey = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), "L")
    colour = Image.fromarray(np.dstack([np.asarray(grey)] * 2 + [np.zeros((8, 8), np.uint8)]), "RGB")
    grey.save(tmp_path / "grey.png")
    colour.save(tmp_path / "colour.jpg", quality=95)
    assert load_image(str(tmp_path / "grey.png")).mode == "L"
    assert (np.asarray(load_image(str(tmp_path / "grey.png"))) == np.asarray(grey)).all()
    loaded = load_image(str(tmp_path / "colour.jpg"))
    assert loaded.mode == "RGB" and loaded.size == (8, 8)
