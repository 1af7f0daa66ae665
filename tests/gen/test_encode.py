import importlib.metadata
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.encode import ENCODER, decode_png, describe, encode_png


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


def test_a_smooth_grey_field_is_up_filtered_and_a_drawing_is_not():
    """Up (filter 2) for smooth fields, none (0) for drawings on a flat background; both decode exactly."""
    from fdsl_gen.encode import ANY_GREY, scanlines
    y, x = np.mgrid[0:64, 0:80]
    field = (128 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)
    drawing = np.full((64, 80), 255, np.uint8)
    drawing[np.arange(64), np.arange(64) + 8] = np.arange(64) * 3
    for image, kind in ((field, 2), (drawing, 0)):
        assert set(scanlines(image, ANY_GREY).rows[:, 0]) == {kind}
        assert np.array_equal(decode_png(encode_png(image, ANY_GREY)), image)


def test_a_smooth_hint_overrides_the_test():
    """smooth=True filters a drawing by Up, smooth=False leaves a field unfiltered; both still decode exactly."""
    from fdsl_gen.encode import ANY_GREY, scanlines
    y, x = np.mgrid[0:64, 0:80]
    field = (128 + 60 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)
    drawing = np.full((64, 80), 255, np.uint8)
    drawing[np.arange(64), np.arange(64) + 8] = np.arange(64) * 3
    for image, hint, kind in ((field, False, 0), (drawing, True, 2)):
        assert set(scanlines(image, ANY_GREY, hint).rows[:, 0]) == {kind}
        assert np.array_equal(decode_png(encode_png(image, ANY_GREY, hint)), image)


@pytest.mark.parametrize("spec", ["rcdb?categories=3&instances=2&size=128",
                                  "visualatom?categories=3&instances=2&size=128"])
def test_the_contour_recipes_drawing_hint_agrees_with_the_test(spec):
    """The contour recipes skip the smooth-field test: on their images it would say 'drawing' too."""
    from fdsl_gen.encode import _smooth
    from fdsl_gen.live import open_live
    dataset = open_live(spec)
    assert dataset.recipe.smooth is False
    images = [image for image, _, _ in dataset.samples()]
    assert len(images) == 6 and not any(_smooth(image) for image in images)


def test_the_up_filter_makes_perlin_noise_smaller():
    from zlib_ng.zlib_ng import compress

    from fdsl_gen.encode import ANY_GREY, GREY_LEVEL, _lines, scanlines
    from fdsl_gen.live import open_live
    for image, _, _ in open_live("perlin?categories=2&instances=1&size=96").samples():
        unfiltered = _lines(image, image.shape[1], 8, 0).rows
        chosen = scanlines(image, ANY_GREY).rows
        assert len(compress(chosen, GREY_LEVEL)) < 0.8 * len(compress(unfiltered, GREY_LEVEL))


@pytest.mark.parametrize("levels", [(0, 127), (0, 50, 90)])
def test_a_wrong_levels_hint_is_refused_not_written(levels):
    image = sparse((0, 60, 127))
    with pytest.raises(ValueError, match="outside the levels hint"):
        encode_png(image, levels)


RCDB = ("render", "rcdb", "--categories", 2, "--instances", 2, "--size", 32, "--polygons-max", 10,
        "--samples-per-shard", 2, "--workers", 1, "--quiet")


def test_the_manifest_records_the_installed_encoder(cli, tmp_path):
    assert cli(*RCDB, "--out", tmp_path / "rcdb").exit_code == 0
    manifest = json.loads((tmp_path / "rcdb" / "manifest.json").read_text())
    from zlib_ng.zlib_ng import ZLIBNG_RUNTIME_VERSION
    assert manifest["png_encoder"] == {"name": "zlib-ng", "package": "zlib-ng",
                                       "version": importlib.metadata.version("zlib-ng"),
                                       "library": ZLIBNG_RUNTIME_VERSION}


@pytest.mark.parametrize("begun,named,cure", [
    (dict(ENCODER, version="1.0.0"), "zlib-ng 1.0.0", "pip install 'zlib-ng==1.0.0'"),
    (dict(ENCODER, library="2.2.4"), f"zlib-ng {ENCODER['version']} (library 2.2.4)", "pip install"),
    ({"name": "libdeflate", "package": "deflate", "version": "0.9.0"}, "deflate 0.9.0", "delete it"),
    (None, "the zlib its Python linked", "delete it")])
def test_resume_refuses_a_dataset_begun_by_another_encoder(cli, tmp_path, begun, named, cure):
    """Shards of two encoder versions in one dataset would break same command, same bytes: one line names both,
    and how to resume where installing the version named is enough."""
    out = tmp_path / "rcdb"
    assert cli(*RCDB, "--out", out).exit_code == 0
    claim = out / ".render" / "config.json"
    described = json.loads(claim.read_text())
    if begun:
        described["manifest"]["png_encoder"] = begun
    else:  # a claim from before the encoder was recorded
        del described["manifest"]["png_encoder"]
    claim.write_text(json.dumps(described))
    lost = out / "rcdb-train-000001.tar"
    lost.unlink()
    result = cli(*RCDB, "--out", out)
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1, result.output
    assert named in lines[0] and f"this fdsl has zlib-ng {ENCODER['version']} (library {ENCODER['library']})" \
        in lines[0] and cure in lines[0]
    assert not lost.exists()
    claim.write_text(json.dumps(dict(described, manifest=dict(described["manifest"], png_encoder=ENCODER))))
    assert cli(*RCDB, "--out", out).exit_code == 0 and lost.exists()


def test_a_dask_worker_with_another_encoder_writes_no_shard(tmp_path):
    """The render's machine passes its encoder with every Dask task; a worker with another one refuses the shard."""
    from fdsl_gen.errors import UserError
    from fdsl_gen.live import from_options
    from fdsl_gen.runner import _dask_task

    live = from_options("rcdb", categories=2, instances=2, size=32, polygons_max=10, samples_per_shard=2)
    shard = (("train", 0), live.recipe, live.plan, str(tmp_path), ("rcdb", live.manifest["config_digest"]))
    for other in dict(ENCODER, version="1.0.0"), dict(ENCODER, library="2.0.0"):  # the package, or the code it runs
        with pytest.raises(UserError, match=re.escape(f"has PNG encoder {describe(ENCODER)} and the render "
                                                      f"{describe(other)}:")):
            _dask_task(*shard, other)
    assert list(tmp_path.glob("*.tar")) == []
    record = _dask_task(*shard, ENCODER)
    assert [path.name for path in tmp_path.glob("*.tar")] == [record["file"]]


def test_the_preview_is_written_by_the_pinned_encoder(cli, tmp_path):
    """SHA256SUMS lists preview.png: Pillow's zlib, which differs between machines, must not write it."""
    from fdsl_gen.readback import contact_sheet
    assert cli(*RCDB, "--out", tmp_path / "rcdb").exit_code == 0
    sheet = np.asarray(contact_sheet(tmp_path / "rcdb")[0])
    written = (tmp_path / "rcdb" / "preview.png").read_bytes()
    assert written == encode_png(sheet[:, :, 0])  # grey thumbnails: a grey sheet
    assert np.array_equal(decode_png(written, "RGB"), sheet)
