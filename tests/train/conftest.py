"""Small shard sets written per the shard contract (shards/README.md), and an ImageFolder.

The images are a learnable toy problem: four classes of grey patterns
(horizontal stripes, vertical stripes, a filled square, a diagonal line) at
random positions, so a tiny model's loss falls within a few steps.
"""
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds
from PIL import Image

NUM_CLASSES = 4
SIZE = 32


def toy_image(label: int, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    image = np.zeros((size, size), np.uint8)
    offset = int(rng.integers(0, 4))
    if label == 0:
        image[offset::4, :] = 127
    elif label == 1:
        image[:, offset::4] = 127
    elif label == 2:
        x, y = rng.integers(2, size // 2, size=2)
        image[y:y + size // 3, x:x + size // 3] = 127
    else:
        idx = np.arange(size)
        image[idx, (idx + offset * 3) % size] = 127
    return image


def png_bytes(image: np.ndarray, palette: bool) -> bytes:
    pil = Image.fromarray(image, "L")
    if palette:
        # a palette of grey levels, one of the two forms the contract allows
        pil = pil.convert("P", palette=Image.ADAPTIVE, colors=2)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def write_dataset(folder: Path, counts, *, name="toy", split="train", num_classes=NUM_CLASSES,
                  loss="ce", seed=0, extra_splits=None, corrupt=()):
    """Write shards of `split` with `counts[i]` samples each plus manifest.json and _info.json.

    `extra_splits` maps more split names to their shard counts; `corrupt` lists
    sample positions of the main split whose png is replaced by garbage.
    """
    folder.mkdir(parents=True, exist_ok=True)
    splits = {split: counts, **(extra_splits or {})}
    rng = np.random.default_rng(seed)
    manifest_splits, info_splits = {}, {}
    for split_name, split_counts in splits.items():
        shards, position = [], 0
        for index, count in enumerate(split_counts):
            file = f"{name}-{split_name}-{index:06d}.tar"
            with wds.TarWriter(str(folder / file), mtime=0) as sink:
                for _ in range(count):
                    label = position % num_classes
                    png = png_bytes(toy_image(label % NUM_CLASSES, rng), palette=position % 2 == 1)
                    if split_name == split and position in corrupt:
                        png = b"not a png"
                    sink.write({
                        "__key__": f"{position:09d}",
                        "png": png,
                        "cls": str(label).encode(),
                        "json": json.dumps({"cls": label}).encode(),
                    })
                    position += 1
            data = (folder / file).read_bytes()
            shards.append({"file": file, "samples": count, "bytes": len(data),
                           "sha256": hashlib.sha256(data).hexdigest()})
        manifest_splits[split_name] = {"num_samples": position, "shards": shards}
        info_splits[split_name] = {
            "name": split_name, "num_samples": position,
            "filenames": [s["file"] for s in shards], "shard_lengths": [s["samples"] for s in shards],
        }
    manifest = {
        "format": "fdsl-shards", "format_version": 1, "name": name, "recipe": "toy",
        "seed": seed, "num_classes": num_classes, "loss": loss,
        "image": {"height": SIZE, "width": SIZE, "channels": 1}, "config": {}, "splits": manifest_splits,
    }
    (folder / "_info.json").write_text(json.dumps({"name": name, "num_classes": num_classes, "splits": info_splits}))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def write_image_folder(root: Path, per_class: int, seed: int = 1) -> Path:
    """root/train/<class>/*.png and root/val/<class>/*.png of the toy problem."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("val", max(2, per_class // 2))):
        for label in range(NUM_CLASSES):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(toy_image(label, rng), "L").save(folder / f"{i:04d}.png")
    return root


@pytest.fixture
def shard_dir(tmp_path):
    """Five uneven training shards (83 samples) and a validation split."""
    return write_dataset(tmp_path / "toy", [20, 20, 20, 15, 8], extra_splits={"val": [16, 8]})


@pytest.fixture
def image_folder(tmp_path):
    return write_image_folder(tmp_path / "folder", per_class=8)


@pytest.fixture
def make_dataset():
    """write_dataset, for tests that need a shard set of their own shape."""
    return write_dataset


# a tiny model and no augmentation noise: a deterministic, seconds-long run on CPU
FAST_ARGS = [
    "--model", "test_resnet", "--img-size", "32", "-b", "8", "--epochs", "2", "--lr", "2e-3",
    "--warmup-epochs", "0", "--mixup", "0", "--cutmix", "0", "--aa", "", "--reprob", "0", "--smoothing", "0",
    "--hflip", "0", "--crop", "random", "--drop-path", "0", "-j", "0", "--log-interval", "1",
]


@pytest.fixture
def fast_args():
    return list(FAST_ARGS)


@pytest.fixture(autouse=True)
def single_process(monkeypatch):
    """In-process runs are one rank, even when pytest itself runs inside a SLURM or MPI job."""
    for names in (("RANK", "WORLD_SIZE", "LOCAL_RANK"),
                  ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
                  ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")):
        for name in names:
            monkeypatch.delenv(name, raising=False)


def read_log(folder: Path, event: str):
    lines = (folder / "log.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["event"] == event]


@pytest.fixture
def log_records():
    return read_log
