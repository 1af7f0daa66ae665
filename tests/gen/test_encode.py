import io

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.encode import decode_png, encode_png


def sparse(levels, shape=(50, 70), seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(levels, np.uint8)[rng.integers(0, len(levels), shape)]


@pytest.mark.parametrize("levels", [(0, 127), (0,), (127,), (30, 200), (0, 255)])
def test_two_level_images_are_1_bit_and_lossless(levels):
    image = sparse(levels)
    data = encode_png(image)
    with Image.open(io.BytesIO(data)) as pil:
        assert pil.mode in ("P", "1") and pil.info.get("transparency") is None
    assert np.array_equal(decode_png(data), image)
    assert np.array_equal(decode_png(data, "RGB")[:, :, 1], image)


def test_levels_hint_gives_the_same_bytes():
    image = sparse((0, 127))
    assert encode_png(image, (0, 127)) == encode_png(image)


def test_1_bit_is_smaller_than_8_bit_grey():
    image = sparse((0, 127), (362, 362))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    assert len(encode_png(image)) < 0.8 * len(buffer.getvalue())


@pytest.mark.parametrize("count", [3, 16, 17, 200])
def test_grey_images_with_more_levels_round_trip(count):
    image = sparse(list(range(0, 256, 256 // count))[:count])
    assert np.array_equal(decode_png(encode_png(image)), image)


@pytest.mark.parametrize("colours", [5, 300])
def test_colour_images_round_trip(colours):
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, (colours, 3), dtype=np.uint8)
    image = palette[rng.integers(0, colours, (40, 40))]
    assert np.array_equal(decode_png(encode_png(image), "RGB"), image)


def test_any_grey_hint_writes_8_bit_grey_without_a_palette():
    from fdsl_gen.encode import ANY_GREY
    image = sparse((0, 90, 255))
    data = encode_png(image, ANY_GREY)
    with Image.open(io.BytesIO(data)) as pil:
        assert pil.mode == "L"
    assert np.array_equal(decode_png(data), image)


@pytest.mark.parametrize("levels", [(0, 127), (0, 50, 90)])
def test_a_wrong_levels_hint_is_refused_not_written(levels):
    image = sparse((0, 60, 127))
    with pytest.raises(ValueError, match="outside the levels hint"):
        encode_png(image, levels)
