"""Proof that it learns: FractalDB pre-training helps a small model on a small real dataset.

1. renders a small FractalDB at low resolution with fdsl-gen;
2. pre-trains a model on it with `fdsl-train pretrain`;
3. fine-tunes it on a labelled ImageFolder tree (DATA/train, DATA/val), and
   trains the same model from scratch with the same options and budget;
4. prints both top-1 accuracies after every epoch.

Without --data it uses Fashion-MNIST from Debian's dataset-fashion-mnist
package (idx files converted by `fdsl-train import-idx`), keeping the first
--train-images training images, a low-data setting. CPU, 10-20 minutes.

    python bench/transfer.py
    python bench/transfer.py --data path/to/imagefolder --img-size 64
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

FASHION = Path("/usr/share/datasets/fashion-mnist")
WORK = Path("runs/transfer")


def run(*command: str) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run([sys.executable, "-m", *command], check=True, stdout=subprocess.DEVNULL)


def fashion_mnist(root: Path, train_images: int, val_images: int) -> Path:
    root = root.with_name(f"{root.name}-{train_images}")
    for split, prefix, limit in (("train", "train", train_images), ("val", "t10k", val_images)):
        if not (root / split).exists():
            run("fdsl_train", "import-idx", "--images", str(FASHION / f"{prefix}-images-idx3-ubyte.gz"),
                "--labels", str(FASHION / f"{prefix}-labels-idx1-ubyte.gz"), "--out", str(root / split),
                "--limit", str(limit))
    return root


def fractaldb(folder: Path, categories: int, per_category: int, size: int, points: int) -> Path:
    if not (folder / "manifest.json").exists():
        run("fdsl_gen", "render", "fractaldb", "--search", "--categories", str(categories), "--instances",
            str(per_category), "--size", str(size), "--points", str(points), "--out", str(folder), "--quiet")
    return folder


def top1_per_epoch(run_folder: Path) -> list:
    records = [json.loads(line) for line in (run_folder / "log.jsonl").read_text().splitlines()]
    return [r["top1"] for r in records if r["event"] == "epoch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="ImageFolder tree with train/ and val/")
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--val-images", type=int, default=2000)
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--img-size", type=int, default=32)
    parser.add_argument("--categories", type=int, default=64)
    parser.add_argument("--per-category", type=int, default=100)
    parser.add_argument("--render-size", type=int, default=48)
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.time()
    data = args.data or fashion_mnist(WORK / "fashion-mnist", args.train_images, args.val_images)
    shards = fractaldb(WORK / f"fractaldb-{args.categories}x{args.per_category}-{args.render_size}px",
                       args.categories, args.per_category, args.render_size, args.points)
    common = ["--model", args.model, "--img-size", str(args.img_size), "-j", str(args.workers), "--seed", "0"]
    pretrained = WORK / "pretrain"
    run("fdsl_train", "pretrain", "--data", str(shards), "--output", str(pretrained), *common,
        "--preset", "fractaldb-resnet", "--crop", "rrc", "--scale", "0.25,1", "--hflip", "0.5",
        "--opt", "adamw", "--lr", "2e-3", "--weight-decay", "0.05", "--sched", "cosine",
        "--warmup-epochs", "1", "-b", "64", "--epochs", str(args.pretrain_epochs))
    finetune = [*common, "--data", str(data), "--preset", "finetune", "-b", "32", "--lr", "1e-3",
                "--epochs", str(args.finetune_epochs), "--warmup-epochs", "1", "--scale", "0.5,1",
                "--aa", "", "--mixup", "0", "--cutmix", "0", "--reprob", "0", "--drop-path", "0"]
    run("fdsl_train", "finetune", "--pretrained", str(pretrained), "--output", str(WORK / "finetune"), *finetune)
    run("fdsl_train", "finetune", "--output", str(WORK / "scratch"), *finetune)
    print(f"{args.model} at {args.img_size} px, fine-tuned on {data} for {args.finetune_epochs} epochs "
          f"({(time.time() - start) / 60:.1f} min in all); pre-trained on FractalDB {args.categories} categories x "
          f"{args.per_category} at {args.render_size} px for {args.pretrain_epochs} epochs")
    print("  epoch   top-1 from FractalDB   top-1 from scratch")
    curves = zip(top1_per_epoch(WORK / "finetune"), top1_per_epoch(WORK / "scratch"))
    for epoch, (pretrained_top1, scratch_top1) in enumerate(curves):
        print(f"  {epoch:5d}   {pretrained_top1:20.2f}   {scratch_top1:18.2f}")

if __name__ == "__main__":
    main()
