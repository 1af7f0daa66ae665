"""Contact sheets: grey thumbnails take a shorter way to the same pixels, and reading stops once the sheet is full."""
import io

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.encode import encode_png
from fdsl_gen.lifecycle import load_manifest
from fdsl_gen.readback import _grey, _thumbnail, contact_sheet, manifest_sheet, png_bytes
from fdsl_gen.storage import open_store


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def the_long_way(data, thumb):
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB").resize((thumb, thumb), Image.Resampling.BOX))


def grey_levels(levels, shape=(131, 97)):
    return np.random.default_rng(len(levels)).choice(np.asarray(levels, np.uint8), size=shape)


def coloured(image):
    image.putpalette([0, 0, 0, 255, 0, 0, 0, 90, 200])
    return image


CASES = {
    "8-bit grey": (encode_png(grey_levels(range(256))), True),
    "1-bit palette 0/127": (encode_png(grey_levels((0, 127))), True),
    "4-bit palette of greys": (encode_png(grey_levels((0, 10, 50, 90, 200, 255))), True),
    "palette of colours": (png(coloured(Image.fromarray(grey_levels((0, 1, 2)), mode="P"))), False),
    "RGB": (encode_png(np.random.default_rng(3).integers(0, 256, (64, 80, 3), np.uint8)), False),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("thumb", [96, 13])
def test_a_thumbnail_has_the_pixels_of_convert_then_resize(case, thumb):
    data, grey = CASES[case]
    with Image.open(io.BytesIO(data)) as image:
        assert _grey(image) == grey
    assert np.array_equal(_thumbnail(data, thumb), the_long_way(data, thumb))


def test_a_palette_with_transparency_is_not_taken_for_grey():
    image = Image.fromarray(grey_levels((0, 127))).convert("P")
    image.info["transparency"] = 0
    with Image.open(io.BytesIO(png(image))) as opened:
        assert not _grey(opened)



def test_a_preview_stops_reading_once_every_class_of_the_dataset_is_shown(tmp_path, cli):
    """One class in two shards, two samples a row: the first shard fills the sheet, the second is not read."""
    out = tmp_path / "rcdb"
    result = cli("render", "rcdb", "--categories", 1, "--instances", 4, "--size", 16, "--samples-per-shard", 2,
                 "--workers", 1, "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    before, shown = contact_sheet(out, classes=8, per_class=2)
    first, second = sorted(out.glob("*.tar"))
    second.unlink()
    after, shown_after = contact_sheet(out, classes=8, per_class=2)
    assert shown == shown_after == [0]
    assert np.array_equal(np.asarray(before), np.asarray(after))


def test_a_sheet_takes_a_shard_read_already_instead_of_reading_it_again(tmp_path, cli):
    """finalize hands the shard it read for the card to the preview: preview.png is the sheet drawn from the
    files, and a sheet given a shard's bytes does not read that shard."""
    out = tmp_path / "rcdb"
    result = cli("render", "rcdb", "--categories", 3, "--instances", 4, "--size", 16, "--samples-per-shard", 5,
                 "--workers", 1, "--quiet", "--out", out)
    assert result.exit_code == 0, result.output
    sheet, shown = contact_sheet(out, classes=8, per_class=4)
    assert (out / "preview.png").read_bytes() == png_bytes(contact_sheet(out)[0])
    store = open_store(out)
    manifest = load_manifest(store)
    first = manifest["splits"]["train"]["shards"][0]["file"]
    data = (out / first).read_bytes()
    (out / first).unlink()
    again, shown_again = manifest_sheet(store, manifest, classes=8, per_class=4, already_read={first: data})
    assert shown_again == shown == [0, 1, 2]
    assert np.array_equal(np.asarray(again), np.asarray(sheet))
