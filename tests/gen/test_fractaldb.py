import io
import json
import tarfile

import numpy as np
import webdataset as wds
from PIL import Image

from reference import fractaldb as ref
from fdsl_gen.formulas import ifs2d
from fdsl_gen.params import read_system, weight_rows
from helpers import SMALL



def shard_files(folder, split="train"):
    return sorted(folder.glob(f"*-{split}-*.tar"))


def read_samples(folder, split="train"):
    urls = [str(p) for p in shard_files(folder, split)]
    return list(wds.WebDataset(urls, shardshuffle=False))


def test_shards_read_back_with_webdataset(small_dataset):
    samples = read_samples(small_dataset)
    manifest = json.loads((small_dataset / "manifest.json").read_text())
    assert len(samples) == manifest["splits"]["train"]["num_samples"] == 4 * 25 * 2 * 4
    assert all("." not in s["__key__"] for s in samples)
    assert len({s["__key__"] for s in samples}) == len(samples)
    classes = [int(s["cls"]) for s in samples]
    assert sorted(set(classes)) == [0, 1, 2, 3] and all(classes.count(c) == 200 for c in range(4))
    meta = json.loads(samples[0]["json"])
    assert {"cls", "category", "weight", "weight_row", "count", "flip", "seed"} <= set(meta)
    image = np.asarray(Image.open(io.BytesIO(samples[0]["png"])).convert("L"))
    assert image.shape == (48, 48) and set(np.unique(image)) <= {0, 127}


def test_tar_lists_with_plain_tar_and_reproducible_headers(small_dataset):
    with tarfile.open(shard_files(small_dataset)[0]) as tar:
        members = tar.getmembers()
    assert {m.mtime for m in members} == {0}
    assert [m.name.split(".")[1] for m in members[:3]] == ["cls", "json", "png"]


def test_every_sample_equals_the_reference_algorithm(small_dataset, params_dir):
    weights = weight_rows(0.1)
    for sample in read_samples(small_dataset)[:12]:
        meta = json.loads(sample["json"])
        system = read_system(params_dir / f"{meta['category']:05d}.csv")
        masks = ifs2d.patch_masks(3000, np.uint64(int(meta["seed"])))
        canvas = ref.render_canvas(system, weights[meta["weight"]], 3000, 48, masks)
        expected = np.asarray(ref.flip(canvas, meta["flip"]))[:, :, 0]
        got = np.asarray(Image.open(io.BytesIO(sample["png"])).convert("L"))
        assert np.array_equal(got, expected), meta


def test_point_mode_equals_reference_exactly(tmp_path, cli, params_dir):
    out = tmp_path / "points"
    result = cli("render", "fractaldb", "--params", params_dir, "--categories", 1, "--draw", "point",
                 "--counts", 1, "--size", 64, "--points", 4000, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    system = read_system(params_dir / "00000.csv")
    for sample in read_samples(out):
        meta = json.loads(sample["json"])
        expected = ref.flip(ref.render_canvas(system, weight_rows(0.4)[meta["weight"]], 4000, 64), meta["flip"])
        got = Image.open(io.BytesIO(sample["png"])).convert("RGB")
        assert np.array_equal(np.asarray(got), np.asarray(expected))


def test_same_command_gives_identical_bytes_whatever_the_workers(tmp_path, cli, params_dir, small_dataset):
    out = tmp_path / "two"
    result = cli("render", "fractaldb", "--params", params_dir, "--out", out, "--workers", 2, *SMALL)
    assert result.exit_code == 0, result.output
    ours, theirs = shard_files(out), shard_files(small_dataset)
    assert [p.name for p in ours] == [p.name for p in theirs]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ours, theirs))


def test_another_seed_changes_masks_not_classes(tmp_path, cli, params_dir, small_dataset):
    out = tmp_path / "seed2"
    cli("render", "fractaldb", "--params", params_dir, "--out", out, "--seed", 2, *SMALL)
    assert shard_files(out)[0].read_bytes() != shard_files(small_dataset)[0].read_bytes()
    assert sorted(int(s["cls"]) for s in read_samples(out)) == sorted(int(s["cls"]) for s in read_samples(small_dataset))


def test_shards_mix_categories(small_dataset):
    for path in shard_files(small_dataset):
        classes = {int(s["cls"]) for s in wds.WebDataset(str(path), shardshuffle=False)}
        assert len(classes) >= 3


def test_resume_redoes_only_missing_or_broken_shards(tmp_path, cli, params_dir, small_dataset):
    out = tmp_path / "resume"
    args = ("render", "fractaldb", "--params", params_dir, "--out", out, *SMALL)
    assert cli(*args).exit_code == 0
    files = shard_files(out)
    files[1].unlink()
    files[2].write_bytes(files[2].read_bytes()[:5000])
    untouched = files[3].stat().st_mtime_ns
    (out / "manifest.json").unlink()
    assert cli(*args).exit_code == 0
    assert files[3].stat().st_mtime_ns == untouched
    assert [p.read_bytes() for p in shard_files(out)] == [p.read_bytes() for p in shard_files(small_dataset)]
    assert cli("verify", out).exit_code == 0
    assert not list(out.glob(".*tmp*"))


def test_instances_limit_images_per_category(tmp_path, cli, params_dir):
    out = tmp_path / "inst"
    result = cli("render", "fractaldb", "--params", params_dir, "--categories", 2, "--instances", 10,
                 "--size", 32, "--points", 500, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    metas = [json.loads(s["json"]) for s in read_samples(out)]
    assert len(metas) == 20
    assert {m["count"] for m in metas} == {0} and len({m["weight"] for m in metas if m["cls"] == 0}) == 3


def test_val_split_is_disjoint_and_complete(tmp_path, cli, params_dir):
    out = tmp_path / "val"
    result = cli("render", "fractaldb", "--params", params_dir, "--val-fraction", 0.1, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    group = lambda m: (m["category"], m["weight"], m["count"])  # noqa: E731
    train = [json.loads(s["json"]) for s in read_samples(out, "train")]
    val = [json.loads(s["json"]) for s in read_samples(out, "validation")]
    assert len(train) + len(val) == 800 and len(val) == 4 * 5 * 4
    assert not {group(m) for m in train} & {group(m) for m in val}
    info = json.loads((out / "_info.json").read_text())
    assert info["splits"]["validation"]["num_samples"] == len(val)


def test_manifest_info_and_checksums_agree(small_dataset):
    manifest = json.loads((small_dataset / "manifest.json").read_text())
    info = json.loads((small_dataset / "_info.json").read_text())
    shards = manifest["splits"]["train"]["shards"]
    assert info["splits"]["train"]["filenames"] == [s["file"] for s in shards]
    assert info["splits"]["train"]["shard_lengths"] == [s["samples"] for s in shards]
    assert manifest["num_classes"] == info["num_classes"] == 4 and manifest["loss"] == "ce"
    sums = dict(reversed(line.split("  ")) for line in (small_dataset / "SHA256SUMS").read_text().splitlines())
    assert all(sums[s["file"]] == s["sha256"] for s in shards)
    assert len(list((small_dataset / "params").glob("0*.csv"))) == 4
    card = (small_dataset / "README.md").read_text()
    assert card.startswith("---\n") and "formula-driven" in card


def test_verify_reports_a_corrupted_shard(tmp_path, cli, small_dataset):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    shard = shard_files(copy)[0]
    data = bytearray(shard.read_bytes())
    data[2000] ^= 0xFF
    shard.write_bytes(bytes(data))
    result = cli("verify", copy)
    assert result.exit_code == 1
    assert shard.name in result.stderr and "sha256" in result.stderr
    assert cli("verify", small_dataset).exit_code == 0


def test_info_and_preview(tmp_path, cli, small_dataset):
    result = cli("info", small_dataset)
    assert result.exit_code == 0 and "800 samples in 13 shards" in result.output
    out = tmp_path / "sheet.png"
    result = cli("preview", small_dataset, "--out", out, "--classes", 3, "--per-class", 4)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (4 * 98, 3 * 98)


def test_timm_reads_the_folder(small_dataset):
    from timm.data import create_dataset
    dataset = create_dataset("wds/fractaldb", root=str(small_dataset), split="train", is_training=False,
                             batch_size=1)
    image, target = next(iter(dataset))
    assert len(dataset) == 800 and image.size == (48, 48) and 0 <= target < 4


def test_timm_training_data_path_steps_a_model(small_dataset):
    """The calls timm's train.py makes for `--dataset wds/fractaldb --data-dir DIR`, then one SGD step."""
    import torch
    from timm import create_model
    from timm.data import create_dataset, create_loader
    dataset = create_dataset("wds/fractaldb", root=str(small_dataset), split="train", is_training=True,
                             batch_size=16, seed=0)
    loader = create_loader(dataset, input_size=(3, 32, 32), batch_size=16, is_training=True,
                           num_workers=0, use_prefetcher=False, persistent_workers=False, device=torch.device("cpu"))
    images, targets = next(iter(loader))
    assert images.shape == (16, 3, 32, 32) and targets.min() >= 0 and targets.max() < 4
    assert len(set(targets.tolist())) > 1  # the shard order mixes classes
    model = create_model("test_resnet", num_classes=4)  # train.py --num-classes, from _info.json
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(images), targets)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and loss.item() > 0


def test_official_csv_subfolder_layout_and_weight_file(tmp_path, cli, params_dir, small_dataset):
    official = tmp_path / "official"
    for index, path in enumerate(sorted(params_dir.glob("*.csv"))):
        folder = official / f"csv{index // 2}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / path.name).write_bytes(path.read_bytes())
    weights = tmp_path / "weights_0.1.csv"
    np.savetxt(weights, weight_rows(0.1), delimiter=",", fmt="%g")
    out = tmp_path / "layout"
    args = [a if a != 0.1 else "0.3" for a in SMALL]  # --weight-k is overridden by --weights
    result = cli("render", "fractaldb", "--params", official, "--weights", weights, "--out", out, *args)
    assert result.exit_code == 0, result.output
    assert [p.read_bytes() for p in shard_files(out)] == [p.read_bytes() for p in shard_files(small_dataset)]


def test_colour_mode_cycles_hues(tmp_path, cli, params_dir):
    out = tmp_path / "colour"
    result = cli("render", "fractaldb", "--params", params_dir, "--categories", 1, "--instances", 4,
                 "--color", "color", "--size", 64, "--points", 2000, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    image = np.asarray(Image.open(io.BytesIO(read_samples(out)[0]["png"])).convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in image} - {(0, 0, 0)}
    assert len(colours) > 20 and colours <= {tuple(c) for c in ifs2d.hue_cycle()}
