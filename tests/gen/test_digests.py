"""Every recipe's output, byte for byte: one small render each against digests taken once.

A digest covers the shard tars and the parameter files stored beside them
(not manifest.json, which records the command as typed). A change to any
kernel, recipe, plan, encoder or tar writer that alters one byte of a shard
fails here; a deliberate change of the output updates the digest with it.

The shard digests changed when PNGs moved from the zlib that Python and
Pillow link to libdeflate (the `deflate` wheel), whose output depends only
on its version and level, so that the same command gives the same bytes on
every machine; and again when they moved to zlib-ng (the `zlib-ng` wheel,
as independent of the CPU): its run-length strategy for 1-bit and palette
images, smaller and faster than libdeflate's level 6, its level 1 for 8-bit
grey, faster than libdeflate's, and the PNG Up filter for smooth grey
fields (Perlin). The pixels did not change: `PIXEL_DIGESTS`, taken from
the renders before the first change, holds them to it.

The same renders show that Hugging Face `datasets`, through the card's
features, reads the pixels that PIL reads.
"""
import hashlib
import json

import pytest
import skimage.data

from fdsl_gen.encode import decode_png
from fdsl_gen.tarformat import iter_samples

PHOTO = f"{skimage.data.data_dir}/camera.png"
SHARDS = ("--samples-per-shard", 5, "--workers", 1, "--quiet")

RENDERS = {
    "fractaldb": ("fractaldb", "--params", "{ifs2d}", "--size", 32, "--points", 2000, "--counts", 1,
                  "--flips", 2, "--instances", 6, "--weight-k", 0.1),
    "fractaldb-colour-point": ("fractaldb", "--params", "{ifs2d}", "--size", 32, "--points", 2000,
                               "--draw", "point", "--color", "color", "--instances", 3),
    "ofdb": ("ofdb", "--params", "{ifs2d}", "--size", 32, "--points", 2000, "--instances", 2),
    "1p-frac": ("1p-frac", "--classes", 4, "--size", 32, "--points", 2000, "--instances", 2),
    "real1p": ("real1p", "--image", PHOTO, "--classes", 4, "--size", 32, "--transform", "elastic"),
    "exfractaldb": ("exfractaldb", "--params", "{ifs3d}", "--size", 32, "--points", 300, "--instances", 4,
                    "--views", 2),
    "mvfractaldb": ("mvfractaldb", "--params", "{ifs3d}", "--size", 32, "--points", 300, "--instances", 12,
                    "--compat"),
    "rcdb": ("rcdb", "--categories", 3, "--instances", 2, "--size", 32, "--polygons-max", 20),
    "visualatom": ("visualatom", "--categories", 3, "--instances", 2, "--size", 32, "--orbits-max", 20,
                   "--vertices-max", 300),
    "perlin": ("perlin", "--categories", 3, "--instances", 2, "--size", 32),
    "bezier": ("bezier", "--categories", 3, "--instances", 2, "--size", 32),
}

DIGESTS = {
    "1p-frac": "1324309d27e06d9a75a5adb7adbc2808582d613c806a51e4181e119597557691",
    "bezier": "adcd05c2e2e78f478beba0850e080387b0ce03605e5fe4deac35541f4cc23b2b",
    "perlin": "7fe42ed8a4f630ede2154ca32f2143c2a087bf58dae9d1defff6a78d4b15a1d9",
    "exfractaldb": "da71445fbafaecacd9f82b12341c0ee141324c8f636f6f423891494635828c38",
    "fractaldb": "cabf282614624f31ac8f921146995ce819a218c45e0016a0f9ffeeeb6ee4354e",
    "fractaldb-colour-point": "9a8de994a6df2e0c07f9422ea1fa730d21178657325253b1825e444ba6abebc5",
    "mvfractaldb": "9581856095120fc093268c22bb8533d94c42b7c49853e5e9ee4ac0a321e6a343",
    "ofdb": "dc1be36ddbde894710cfb49741a15f85dec754f3581fa0198cca61af0ec86ba1",
    "rcdb": "cc402e50029158883e355696cca4dc7072f25c4b076928bb1bacc9b49056d493",
    "real1p": "0903027b215a59e3c6f12c4733bd8c32bc1a18d5bad7ffe8207543b22fdcc3fb",
    "visualatom": "a64ca1eba608be1ab8ecb3ebb67c34979f69c636c0150b6ed3704c5bd99b69a5",
    "search-ifs2d": "3abf770d083006c63dd8979202b25e760230fcc4458a8b3fc29a2025a5bce6af",
    "search-ifs3d": "4aeb136839fa90770fa0b7473ac69384088fc7412e9b8d222cc67ea01c93ce21",
}

# Decoded pixels of the same renders, taken before the PNG encoder changed: the encoder may change bytes, never these.
PIXEL_DIGESTS = {
    "1p-frac": "6f957187e317dadda74018a05ae8955b41d7e4e5fa52f3834da3c797b35f6a12",
    "bezier": "74928158bc2be07b297248832f00693af913fe358bc27f49e5bb5508d24c8bba",
    "exfractaldb": "cdf086b0c27e0e790d45ed7b0caf9d65bad33c5318fde1c76950502c87e8b700",
    "fractaldb": "979264aefb73fc35486fb1b8ef93efc5ecff7378235ff572a38e396ddb3f89d4",
    "fractaldb-colour-point": "6cfae433f29a3659092faef4e0368bb458ce7cbca8db7a82d1c57b572150fd9b",
    "mvfractaldb": "b079b7d8530728dcb30a78fb8ef36da3b1d929056d1ea89fb942a27d330bec3d",
    "ofdb": "76ba8e2e515b7c70ce8a01bd84fdd9e8f691383044f5f64ca1e6b86a6d1918a4",
    "perlin": "b1b2e363217f1698f43c38c459147180142a961a1a6a798aa11be342726d5afc",
    "rcdb": "f1410f64fcd7285afc98af5f7831591a10e75cbd79b284afbc33d08edde5a864",
    "real1p": "0f80ac166f917964d799503bdd337c3f6033eda115835c2f31d2377cdcb6cf94",
    "visualatom": "b922ae30190aaac060cb6dd8f1b1abb5a80006ff58c26fd1273a71efc245aee4",
}


def folder_digest(folder, patterns=("*.tar", "params/*")):
    """sha256 over (relative path, sha256) of every shard tar and stored parameter file."""
    files = sorted(path for pattern in patterns for path in folder.glob(pattern))
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder)} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


@pytest.fixture(scope="module", params=sorted(RENDERS))
def rendered(request, cli, param_folders, tmp_path_factory):
    """(name, folder) of one recipe's small render, shared by the byte and the pixel test."""
    render = request.param
    out = tmp_path_factory.mktemp("digests") / render
    result = cli("render", *[str(a).format(**param_folders) for a in RENDERS[render]], "--out", out, *SHARDS)
    assert result.exit_code == 0, result.output
    return render, out


def pixel_digest(folder):
    """sha256 over the decoded pixels of every PNG of a dataset: each sample's image and each stored one."""
    mode = "RGB" if json.loads((folder / "manifest.json").read_text())["image"]["channels"] == 3 else "L"
    pngs = [(f"{tar.name} {key}", fields["png"]) for tar in sorted(folder.glob("*.tar"))
            for key, fields in iter_samples(tar)]
    pngs += [(str(path.relative_to(folder)), path.read_bytes()) for path in sorted(folder.glob("params/*.png"))]
    digest = hashlib.sha256()
    for name, data in pngs:
        pixels = decode_png(data, mode)
        digest.update(f"{name} {pixels.shape}\n".encode() + pixels.tobytes())
    return digest.hexdigest()


def test_render_bytes_are_unchanged(rendered):
    render, folder = rendered
    assert folder_digest(folder) == DIGESTS[render]


def test_decoded_pixels_are_unchanged(rendered):
    render, folder = rendered
    assert pixel_digest(folder) == PIXEL_DIGESTS[render]


def test_searches_write_the_same_parameter_files(param_folders):
    found = {kind: folder_digest(folder, ("*.csv",)) for kind, folder in param_folders.items()}
    assert found == {kind: DIGESTS[f"search-{kind}"] for kind in found}



def test_the_renders_cover_every_registered_recipe():
    from fdsl_gen.registry import list_recipes
    assert {options[0] for options in RENDERS.values()} == set(list_recipes())


def test_hugging_face_datasets_gives_the_pixels_pil_gives(rendered, tmp_path):
    """The card's features decode `png` as PIL's convert("L") or ("RGB") does, so that a palette PNG gives its
    grey levels or colours, not its palette indices: folder and streaming, numpy and torch formats."""
    import io

    import numpy as np
    from datasets import load_dataset
    from PIL import Image

    _, folder = rendered
    mode = "RGB" if json.loads((folder / "manifest.json").read_text())["image"]["channels"] == 3 else "L"
    expected = {key: np.asarray(Image.open(io.BytesIO(fields["png"])).convert(mode))
                for tar in sorted(folder.glob("*.tar")) for key, fields in iter_samples(tar)}
    built = load_dataset(str(folder), split="train", cache_dir=str(tmp_path))
    streamed = load_dataset(str(folder), split="train", streaming=True)
    for rows in (built, streamed):
        for kind in ("numpy", "torch"):
            got = {row["__key__"]: np.asarray(row["png"]) for row in rows.with_format(kind)}
            if kind == "torch":  # channels first
                got = {key: np.moveaxis(pixels, 0, -1).reshape(expected[key].shape) for key, pixels in got.items()}
            assert got.keys() == expected.keys()
            assert all(np.array_equal(got[key], expected[key]) for key in expected), (kind, rows)
