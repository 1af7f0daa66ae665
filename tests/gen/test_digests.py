"""Every recipe's output, byte for byte: one small render each against digests taken once.

A digest covers the shard tars and the parameter files stored beside them
(not manifest.json, which records the command as typed). A change to any
kernel, recipe, plan, encoder or tar writer that alters one byte of a shard
fails here; a deliberate change of the output updates the digest with it.
"""
import hashlib

import pytest
import skimage.data

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
    "1p-frac": "00d5b4508e1c342e1bb7c244a72d9d34701cb40b4633b031d1e6ca17f0bbaf9d",
    "bezier": "7beecc7fcc10abcf95310013861306c9316e206696711c5e86a41a98179251d8",
    "perlin": "309f0d57e2ed6e6be63d83e2500e5a4df3735fb17b4a32f0e290c24b407c02fc",
    "exfractaldb": "018eb70294d3e85c171350abd0ef945d79829e65d449228b7b1b8daacc8ec3d7",
    "fractaldb": "5b514cfffee592224a8eafd5136f4a5de3b1cd7fda174f0c76519b99874c6c97",
    "fractaldb-colour-point": "54b0d87bc453060ca8e3fa68caa5babed25bc5f5e0553087a2ae0523a860cd94",
    "mvfractaldb": "d874367bdb425c9dac4881e78753160c3dfd5a1a88d21ebe3c87f471a7532a1b",
    "ofdb": "7e79b45d26b7dc35edbe155b43def955e766f80b71c48c8b2888c74a51f95416",
    "rcdb": "ab499c3d3f91539c4eff0ddcc0e88e409b8e9d4843fdedebaa273882de43d32e",
    "real1p": "512e0cb14f34a63d111c9936ae54295dd07fbe336e771caf07360c8e697c4013",
    "visualatom": "1b6c07d19702064b935a787d6cee34f4706d02e44df4f499dc7d95eeebf00a33",
    "search-ifs2d": "3abf770d083006c63dd8979202b25e760230fcc4458a8b3fc29a2025a5bce6af",
    "search-ifs3d": "4aeb136839fa90770fa0b7473ac69384088fc7412e9b8d222cc67ea01c93ce21",
}


def folder_digest(folder, patterns=("*.tar", "params/*")):
    """sha256 over (relative path, sha256) of every shard tar and stored parameter file."""
    files = sorted(path for pattern in patterns for path in folder.glob(pattern))
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder)} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


@pytest.mark.parametrize("render", sorted(RENDERS))
def test_render_bytes_are_unchanged(cli, param_folders, tmp_path, render):
    args = [str(a).format(**param_folders) for a in RENDERS[render]]
    result = cli("render", *args, "--out", tmp_path / render, *SHARDS)
    assert result.exit_code == 0, result.output
    assert folder_digest(tmp_path / render) == DIGESTS[render]


def test_searches_write_the_same_parameter_files(param_folders):
    found = {kind: folder_digest(folder, ("*.csv",)) for kind, folder in param_folders.items()}
    assert found == {kind: DIGESTS[f"search-{kind}"] for kind in found}

