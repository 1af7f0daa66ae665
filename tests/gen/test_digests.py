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
    "1p-frac": "ddd3276569b25689606d9c472ed82ec2edc7a5bc51be43d175df647567afd14a",
    "bezier": "077fcbaca432459ce8f5e45df84bcb2fd94284685ce0887bf963255a4c74b78d",
    "perlin": "4c620f3c3bb416ed4996b02b95c2e4d9d18a3df69fdfa75bc6c3e4322fbc45fe",
    "exfractaldb": "80b2a04794627610aff0441896ec87a25c65273a332724f729d9b7c006418106",
    "fractaldb": "3c77e331ebe094b9c025e18690e1f54f9a2c154d8a4d4f9caaa66b51ee9412bc",
    "fractaldb-colour-point": "adf91dc8134e0791a43b4f8a9a8aea24da682ed5287c506d7abde6c262af193e",
    "mvfractaldb": "8a18617cef03bbe1ec89c930e4fa5f9e91f01f9dee3862d574bf1b364e4bc14d",
    "ofdb": "2e9b2f8b888d4eb94bb9f43f0fdd9b0fb67d299b881d058ef5d63b7972cf4b0b",
    "rcdb": "c5caf710a4a68730c1520575ac0fffb3b62e10474a025899a00d4feeae6b70b3",
    "real1p": "512e0cb14f34a63d111c9936ae54295dd07fbe336e771caf07360c8e697c4013",
    "visualatom": "eb00d7e93a5b877159f3bfbb9356854f4a3ca0e950046a643b20198dde4b9da9",
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

