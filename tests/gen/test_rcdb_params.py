"""RCDB from official parameter files (`--params`): the categories used, errors, the stored params/ round trip."""
import csv
import io
import json
import random
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.configs import RCDBConfig
from fdsl_gen.live import from_manifest
from fdsl_gen.params import read_rcdb_category
from fdsl_gen.recipes.rcdb import RCDB
from fdsl_gen.tarformat import iter_samples
from helpers import assert_one_line_error

SMALL = ("--size", 64, "--instances", 3, "--samples-per-shard", 4, "--quiet")
DOC = Path(__file__).resolve().parents[2] / "docs" / "rcdb.md"


def official_row(rng):
    """One category as make_rcdb.py draws it (polygons kept few so that the tests stay fast)."""
    vertices = 0
    while not 2 < vertices <= 200:
        vertices = int(rng.expovariate(1 / 100))
    return {"Vertex": vertices, "Perlin_noise": rng.uniform(0, 4),
            "line_width": rng.uniform(0.0, 0.1), "Center_rad": rng.randint(0, 100), "Line_num": rng.randint(1, 12),
            "Oval_rate_x": rng.uniform(1, 2), "Oval_rate_y": rng.uniform(1, 2),
            "start_pos_h": (512 + rng.randint(-400, 400)) / 2, "start_pos_w": (512 + rng.randint(-400, 400)) / 2}


def write_official(folder, count, seed=0):
    """`count` category files written as make_rcdb.py writes param/%05d.csv; returns their rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = [official_row(rng) for _ in range(count)]
    for cat, param in enumerate(rows):
        with open(folder / ("%05d.csv" % cat), "w") as f:
            writer = csv.writer(f)
            for k, v in param.items():
                writer.writerow([k, v])
    return rows


def expected(row):
    return {"vertices": row["Vertex"], "polygons": row["Line_num"], "c": row["Perlin_noise"],
            "w": row["line_width"], "attempt": 0}


def render(cli, params, out, *args):
    result = cli("render", "rcdb", "--params", params, "--out", out, *SMALL, *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())


def shards(out):
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.tar"))}


def decoded(out, manifest, split="train"):
    """[(pixels, cls, meta)] of every sample of a split's shards, in order."""
    samples = []
    for shard in manifest["splits"][split]["shards"]:
        for _, fields in iter_samples(str(out / shard["file"])):
            pixels = np.asarray(Image.open(io.BytesIO(fields["png"])).convert("L"))
            samples.append((pixels, int(fields["cls"]), json.loads(fields["json"])))
    return samples


def test_the_categories_are_the_files_values(tmp_path, cli):
    rows = write_official(tmp_path / "param", 3)
    out = tmp_path / "rcdb"
    manifest = render(cli, tmp_path / "param", out, "--categories", 3)
    assert manifest["config"]["category_params"] == [expected(r) for r in rows]
    assert manifest["config"]["category_redraws"] == 0
    samples = decoded(out, manifest)
    assert sorted((cls, meta["instance"]) for _, cls, meta in samples) == [(c, j) for c in range(3) for j in range(3)]
    for pixels, cls, meta in samples:
        assert {k: meta[k] for k in expected(rows[cls])} == expected(rows[cls])
        assert np.count_nonzero(pixels != 255) == meta["ink"] >= 16


def test_categories_takes_the_first_files_in_name_order(tmp_path, cli):
    rows = write_official(tmp_path / "param", 4, seed=1)
    (tmp_path / "param" / "00003.csv").rename(tmp_path / "param" / "a.csv")  # sorts after the numbered files
    manifest = render(cli, tmp_path / "param", tmp_path / "two", "--categories", 2)
    assert manifest["num_classes"] == 2
    assert manifest["config"]["category_params"] == [expected(r) for r in rows[:2]]
    assert sorted(p.name for p in (tmp_path / "two" / "params").iterdir()) == ["00000.csv", "00001.csv"]


def test_more_categories_than_files_is_one_line(tmp_path, cli):
    write_official(tmp_path / "param", 3)
    out = tmp_path / "out"
    result = cli("render", "rcdb", "--params", tmp_path / "param", "--out", out, *SMALL)
    assert_one_line_error(result, "--categories 1000", "3 category files", "set it to 3 or fewer")
    assert not out.exists()


GOOD = "Vertex,92\nPerlin_noise,1.5\nline_width,0.05\nCenter_rad,50\nLine_num,7\n"
BAD = {
    "missing": ("Vertex,92\nPerlin_noise,1.5\nline_width,0.05\n", "no Line_num row"),
    "unknown": (GOOD + "Colour,3\n", "line 6: unknown key 'Colour'"),
    "duplicate": (GOOD + "Vertex,93\n", "line 6: Vertex given twice"),
    "text": (GOOD.replace("1.5", "high"), "line 2: Perlin_noise is not a number"),
    "columns": (GOOD + "Oval_rate_x,1.2,1.3\n", "line 6: expected key,value"),
    "two-vertices": (GOOD.replace("Vertex,92", "Vertex,2"), "line 1: Vertex must be a whole number"),
    "fractional-vertices": (GOOD.replace("Vertex,92", "Vertex,92.5"), "line 1: Vertex must be a whole number"),
    "no-polygons": (GOOD.replace("Line_num,7", "Line_num,0"), "line 5: Line_num must be a whole number"),
    "negative-noise": (GOOD.replace("1.5", "-0.5"), "line 2: Perlin_noise must be at least 0"),
    "nan": (GOOD.replace("0.05", "nan"), "line 3: line_width must be a finite number"),
    "infinite": (GOOD.replace("Center_rad,50", "Center_rad,inf"), "line 4: Center_rad must be a finite number"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_file_is_one_line_naming_file_and_line(tmp_path, cli, kind):
    write_official(tmp_path / "param", 2)
    text, words = BAD[kind]
    (tmp_path / "param" / "00001.csv").write_text(text)
    out = tmp_path / "out"
    result = cli("render", "rcdb", "--params", tmp_path / "param", "--categories", 2, "--out", out, *SMALL)
    assert_one_line_error(result, "00001.csv", words)
    assert not out.exists()


def test_the_stored_params_read_back_as_the_given_categories(tmp_path, cli):
    write_official(tmp_path / "param", 3, seed=2)
    out = tmp_path / "rcdb"
    render(cli, tmp_path / "param", out, "--categories", 3)
    for k in range(3):
        stored = out / "params" / f"{k:05d}.csv"
        assert read_rcdb_category(stored) == read_rcdb_category(tmp_path / "param" / f"{k:05d}.csv")
        assert stored.read_text().splitlines()[0] == f"Vertex,{read_rcdb_category(stored)['vertices']}"
    sums = (out / "SHA256SUMS").read_text()
    assert all(f"params/{k:05d}.csv" in sums for k in range(3))


def test_resume_from_the_stored_params_gives_the_straight_renders_bytes(tmp_path, cli):
    write_official(tmp_path / "param", 3, seed=3)
    straight = tmp_path / "straight"
    render(cli, tmp_path / "param", straight, "--categories", 3)
    half = tmp_path / "half"
    render(cli, tmp_path / "param", half, "--categories", 3)
    names = sorted(shards(half))
    assert len(names) == 3
    (half / "manifest.json").unlink()
    (half / names[0]).unlink()
    (half / names[2]).write_bytes((half / names[2]).read_bytes()[:3000])
    # the stored params/ stand in for the folder the render was given
    render(cli, half / "params", half, "--categories", 3)
    assert shards(half) == shards(straight)
    assert cli("verify", half).exit_code == 0


def test_live_from_the_manifest_draws_the_shards_images(tmp_path, cli):
    params = tmp_path / "param"
    write_official(params, 2, seed=4)
    out = tmp_path / "rcdb"
    manifest = render(cli, params, out, "--categories", 2, "--val-fraction", 0.34)
    shutil.rmtree(params)  # the live source reads out/params/, not the folder the render was given
    live = from_manifest(out / "manifest.json")
    assert live.splits() == ["train", "validation"]
    for split in live.splits():
        written = decoded(out, manifest, split)
        drawn = [s for i in range(len(manifest["splits"][split]["shards"])) for s in live.shard(split, i)]
        assert len(drawn) == len(written) > 0
        for (image, cls, meta), (pixels, label, stored) in zip(drawn, written):
            assert np.array_equal(image, pixels) and cls == label and meta == stored


def test_the_same_command_twice_gives_the_same_checksums(tmp_path, cli, monkeypatch):
    sums = []
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        write_official(Path("param"), 3, seed=5)
        render(cli, "param", Path("ds"), "--categories", 3)
        sums.append(Path("ds/SHA256SUMS").read_text())
    assert sums[0] == sums[1] and "params/00002.csv" in sums[0]


def test_the_docs_command_runs_verbatim(tmp_path, cli, monkeypatch):
    section = DOC.read_text().split("## Categories of a published RCDB", 1)[1]
    command = re.search(r"```\n(fdsl-gen render rcdb --params .*?)\n```", section).group(1)
    words = shlex.split(command)
    folder = Path(words[words.index("--params") + 1])
    monkeypatch.chdir(tmp_path)
    rows = write_official(folder, int(words[words.index("--categories") + 1]), seed=6)
    result = cli(*words[1:])
    assert result.exit_code == 0, result.output
    manifest = json.loads((Path(words[words.index("--out") + 1]) / "manifest.json").read_text())
    assert manifest["config"]["category_params"] == [expected(r) for r in rows]


def test_a_category_whose_first_image_stays_blank_is_one_line_naming_its_file(tmp_path, cli):
    write_official(tmp_path / "param", 2)
    out = tmp_path / "out"
    result = cli("render", "rcdb", "--params", tmp_path / "param", "--categories", 2, "--gray-min", 255,
                 "--retries", 1, "--out", out, *SMALL)  # white polygons on white
    assert_one_line_error(result, "category 0", "00000.csv", "2 draws", "--min-ink")
    assert not out.exists()


def test_without_params_nothing_is_stored_and_the_config_is_as_before():
    recipe = RCDB(RCDBConfig(categories=2, instances=1, size=32, polygons_max=5), seed=1)
    assert recipe.extra_files() == {} and "params" not in recipe.describe()


def test_a_dask_cluster_writes_the_local_renders_bytes(tmp_path, cli):
    from distributed import LocalCluster
    write_official(tmp_path / "param", 2, seed=7)
    local = tmp_path / "local"
    render(cli, tmp_path / "param", local, "--categories", 2)
    out = tmp_path / "dask"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        render(cli, tmp_path / "param", out, "--categories", 2, "--engine", "dask", "--scheduler",
               cluster.scheduler_address)
    assert shards(out) == shards(local) and len(shards(local)) == 2
    assert (out / "SHA256SUMS").read_text() == (local / "SHA256SUMS").read_text()
