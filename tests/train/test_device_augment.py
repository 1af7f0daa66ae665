"""--gpu-augment on CPU: each tensor op against its PIL original, the batches against the CPU path's."""
import json
import random

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors.torch import load_file
from timm.data import auto_augment

from fdsl_train import dist
from fdsl_train.cli import cli
from fdsl_train.data.device_augment import TENSOR_OPS, DeviceAugment, seeded_draws, worker_transform
from fdsl_train.data.loader import Crops, ShardStream, collate, hashed_seed
from fdsl_train.data.reading import ShardFiles
from fdsl_train.data.shards import resolve
from fdsl_train.data.transforms import _posterize, train_transform
from fdsl_train.presets import resolve as preset
from fdsl_train.run.engine import Accel, Trainer
from fdsl_train.run.models import create

BICUBIC = Image.Resampling.BICUBIC


def _smooth_grey(size: int = 48) -> np.ndarray:
    """A grey test image with gradients and soft blobs: resampling differences stay small on it."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = 90 + 80 * np.sin(3 * x + 1) * np.cos(2 * y) + 60 * np.exp(-((x - 0.6) ** 2 + (y - 0.3) ** 2) * 20)
    return image.clip(0, 255).astype(np.uint8)


# (PIL op, its arguments, largest mean absolute difference in grey levels); geometric ops resample with
# another bicubic kernel (grid_sample's a=-0.75, Pillow's a=-0.5)
CASES = [
    (auto_augment.auto_contrast, (), 0.01), (auto_augment.equalize, (), 0.01), (auto_augment.invert, (), 0),
    (_posterize, (0,), 0), (auto_augment.posterize, (1,), 0), (auto_augment.posterize, (4,), 0),
    (auto_augment.solarize, (128,), 0), (auto_augment.solarize, (256,), 0), (auto_augment.solarize_add, (60,), 0),
    (auto_augment.color, (0.3,), 0), (auto_augment.contrast, (0.3,), 1), (auto_augment.contrast, (1.7,), 1),
    (auto_augment.brightness, (0.4,), 1), (auto_augment.brightness, (1.6,), 1),
    (auto_augment.sharpness, (0.2,), 1), (auto_augment.sharpness, (1.9,), 1),
    (auto_augment.rotate, (25.0,), 1.5), (auto_augment.rotate, (-140.0,), 1.5),
    (auto_augment.shear_x, (0.25,), 1.5), (auto_augment.shear_y, (-0.25,), 1.5),
    (auto_augment.translate_x_rel, (0.3,), 0.5), (auto_augment.translate_y_rel, (-0.3,), 0.5),
    (auto_augment.translate_x_abs, (7.5,), 1.5), (auto_augment.translate_y_abs, (-5,), 0.5),
]


@pytest.mark.parametrize("op, args, tolerance", CASES, ids=lambda v: getattr(v, "__name__", None))
def test_each_tensor_op_stays_near_its_pil_original(op, args, tolerance):
    pixels = _smooth_grey()
    kwargs = dict(fillcolor=100, resample=BICUBIC)
    expected = np.asarray(op(Image.fromarray(pixels, "L"), *args, **dict(kwargs)), np.float64)
    tensor_op = TENSOR_OPS[auto_augment.posterize if op is _posterize else op]
    got = tensor_op(torch.from_numpy(pixels)[None], *args, **dict(kwargs))
    assert got.dtype == torch.uint8 and got.shape == (1, 48, 48)
    difference = np.abs(got[0].numpy() - expected)
    assert difference.mean() <= tolerance, difference.mean()


def test_saturation_of_a_colour_image_follows_pillow():
    rgb = np.stack([_smooth_grey(), _smooth_grey()[::-1], _smooth_grey().T], axis=-1)
    expected = np.asarray(auto_augment.color(Image.fromarray(rgb, "RGB"), 0.3), np.float64)
    got = TENSOR_OPS[auto_augment.color](torch.from_numpy(rgb).permute(2, 0, 1).contiguous(), 0.3)
    assert np.abs(got.permute(1, 2, 0).numpy() - expected).mean() <= 1


def test_every_op_of_the_presets_auto_augment_has_a_tensor_version():
    stage = auto_augment.rand_augment_transform("rand-m9-mstd0.5-inc1", {"img_mean": (124, 116, 104)})
    assert {op.aug_fn for op in stage.ops} <= set(TENSOR_OPS)


AUGMENTED = {"img_size": 24, "hflip": 0.5, "vflip": 0.5, "reprob": 0.25, "scale": (0.3, 1.0)}
PRESETS = {
    "randaugment": ("fdsl-vit", {**AUGMENTED, "aa": "rand-m9-mstd0.5-inc1", "mean": (0.485, 0.456, 0.406)}),
    "colour-jitter": ("fdsl-vit", {**AUGMENTED, "aa": "", "color_jitter": 0.4, "mean": (0.5, 0.5, 0.5)}),
    "augmix-in-workers": ("fdsl-vit", {**AUGMENTED, "aa": "augmix-m5-w3-d2"}),
    "random-crop": ("fractaldb-resnet", {"img_size": 24, "hflip": 0.5}),
}


def _batches(shardset, transform, seed: int):
    stream = ShardStream(shardset, transform, read_shard=ShardFiles(shardset), batch_size=32, seed=seed,
                         shuffle_buffer=64)
    return [(images, labels) for images, labels, _ in stream]


def _summary(images: torch.Tensor):
    """Per image: mean and std over its pixels, and the share of pixels erased (exactly 0 after Normalize)."""
    flat = images.flatten(1).double()
    return flat.mean(1), flat.std(1), (images == 0).all(1).flatten(1).double().mean(1)


@pytest.mark.parametrize("name", PRESETS)
def test_batches_match_the_cpu_paths_statistics(tmp_path, make_dataset, name):
    # the same samples through both paths; each path's own draws; the figures of the two agree within
    # 4.5 standard errors of their difference
    shardset = resolve(str(make_dataset(tmp_path / "toy", [128] * 5)))
    chosen = preset(*PRESETS[name])
    cpu = _batches(shardset, train_transform(chosen), seed=1)
    crops = _batches(shardset, worker_transform(chosen), seed=1)
    augment = DeviceAugment(chosen, torch.device("cpu"))
    device = []
    for step, (images, labels) in enumerate(crops):
        # RandomCrop gives the final size; RandomResizedCrop's crops come at their own sizes
        assert isinstance(images, Crops) == (chosen.crop == "rrc" and "augmix" not in chosen.aa)
        assert (images.canvas if isinstance(images, Crops) else images).dtype == torch.uint8
        with seeded_draws(hashed_seed("device", 1, step, 0)):
            device.append((augment(images).expand(-1, 3, -1, -1), labels))
    assert [labels.tolist() for _, labels in cpu] == [labels.tolist() for _, labels in device]
    for ours, theirs in zip(_summary(torch.cat([x for x, _ in device])), _summary(torch.cat([x for x, _ in cpu]))):
        error = (ours.var() / len(ours) + theirs.var() / len(theirs)).sqrt()
        assert abs(ours.mean() - theirs.mean()) <= 4.5 * error + 1e-9, (ours.mean(), theirs.mean(), error)
        if theirs.var() == 0:  # nothing erased on either path
            assert ours.var() == 0
            continue
        # the spread over images too (colour jitter moves it, not the mean): the log of the variance ratio,
        # whose standard error is sqrt((kurtosis - 1) / n) per side
        spread_error = (_kurtosis(ours) - 1) / len(ours) + (_kurtosis(theirs) - 1) / len(theirs)
        assert abs(torch.log(ours.var() / theirs.var())) <= 4.5 * spread_error.sqrt()


def _kurtosis(values: torch.Tensor) -> torch.Tensor:
    return ((values - values.mean()) ** 4).mean() / values.var() ** 2


def _ks_statistic(a, b) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    gaps = np.searchsorted(a, points, "right") / len(a) - np.searchsorted(b, points, "right") / len(b)
    return float(np.abs(gaps).max())


def _trainer(chosen, gpu_augment: bool, seed: int = 0) -> Trainer:
    model = create("test_resnet", num_classes=4, img_size=16)
    return Trainer(model, chosen, num_classes=4, updates_per_epoch=1, global_batch=2,
                   accel=Accel(torch.device("cpu"), gpu_augment=gpu_augment), ranks=dist.Ranks(), seed=seed)


def _lambdas(mix, steps: int):
    """The mixup weight of each step's batch of two (labels 0 and 1), read from the smoothed targets."""
    off = 0.1 / 4
    lambdas = []
    for step in range(steps):
        _, targets = mix(step)
        lambdas.append((float(targets[0, 0]) - off) / (1 - 0.1))
    return np.array(lambdas)


def test_mixup_lambdas_keep_their_distribution():
    # timm's Mixup drawing from numpy's global generator, as it did before draws were seeded per step, is the
    # reference; seeded per step on either path, the draws must have its distribution (KS at alpha 0.001)
    chosen = preset("fdsl-vit", {"img_size": 16, "mixup": 0.8, "cutmix": 1.0, "smoothing": 0.1, "reprob": 0.25})
    images, labels = torch.randint(0, 256, (2, 1, 16, 16), dtype=torch.uint8), torch.tensor([0, 1])
    steps = 400
    reference = _trainer(chosen, False).mixup
    np.random.seed(0)
    floats = images.expand(-1, 3, -1, -1).float() / 255
    expected = _lambdas(lambda step: reference(floats.clone(), labels), steps)
    for gpu_augment in (False, True):
        trainer = _trainer(chosen, gpu_augment)
        source = images if gpu_augment else floats
        got = _lambdas(lambda step: trainer.inputs(source.clone(), labels, step), steps)
        assert len(set(got.round(6))) > steps // 4  # not one draw repeated
        assert _ks_statistic(got, expected) < 1.95 * np.sqrt(2 / steps)


def test_device_draws_repeat_for_the_same_step_and_leave_the_global_generators_alone():
    chosen = preset("fdsl-vit", {"img_size": 16, "hflip": 0.5, "reprob": 0.5, "aa": "rand-m9-mstd0.5-inc1"})
    trainer = _trainer(chosen, True, seed=5)
    batch = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    labels = torch.arange(8) % 4
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    first, again, other = (trainer.inputs(batch.clone(), labels, step)[0] for step in (7, 7, 8))
    assert first.shape == (8, 3, 16, 16) and torch.equal(first, again) and not torch.equal(first, other)
    assert random.getstate() == before[0] and (np.random.get_state()[1] == before[1]).all()
    assert torch.equal(torch.get_rng_state(), before[2])


def test_each_sample_draws_its_own_flip():
    only_flips = DeviceAugment(only_flips_preset(0.5), torch.device("cpu"))
    batch = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8)
    never = DeviceAugment(only_flips_preset(0.0), torch.device("cpu"))
    plain, mirrored = never(batch), never(batch.flip(-1))
    counts = []
    for step in range(20):
        with seeded_draws(step):
            out = only_flips(batch)
        flipped = [torch.equal(out[i], mirrored[i]) for i in range(8)]
        assert all(f or torch.equal(out[i], plain[i]) for i, f in enumerate(flipped))
        counts.append(sum(flipped))
    assert any(0 < count < 8 for count in counts) and 50 < sum(counts) < 110


def only_flips_preset(hflip: float):
    return preset("fdsl-vit", {"img_size": 16, "hflip": hflip, "vflip": 0, "aa": "", "color_jitter": 0, "reprob": 0})


def test_the_device_resizes_the_workers_crops_as_random_resized_crop_does():
    chosen = preset("fdsl-vit", {"img_size": 32, "aa": "", "color_jitter": 0, "reprob": 0, "hflip": 0})
    image = Image.fromarray(_smooth_grey(90), "L")
    whole = train_transform(chosen).grey[0]  # timm's RandomResizedCrop
    crop = worker_transform(chosen)
    crops = []
    for seed in range(6):
        random.seed(seed)
        crops.append((crop(image), seed))
        assert crops[-1][0].shape[1:] != (32, 32)  # the worker did not resize
    resized = DeviceAugment(chosen, torch.device("cpu"))._resized(collate(crops)[0])
    assert resized.shape == (6, 1, 32, 32)
    for seed in range(6):
        random.seed(seed)
        expected = torch.from_numpy(np.asarray(whole(image), np.float64))
        assert (resized[seed, 0].double() - expected).abs().mean() < 0.5


def test_crops_of_unequal_sizes_come_on_a_zero_canvas_with_their_sizes():
    small, large = torch.full((1, 2, 3), 5, dtype=torch.uint8), torch.full((1, 4, 2), 9, dtype=torch.uint8)
    crops, labels = collate([(small, 0), (large, 1)])
    assert crops.sizes.tolist() == [[2, 3], [4, 2]] and crops.canvas.shape == (2, 1, 4, 3)
    assert (crops.canvas[0, :, :2, :3] == 5).all() and crops.canvas[0].sum() == 5 * 6
    assert (crops.canvas[1, :, :4, :2] == 9).all() and crops.canvas[1].sum() == 9 * 8


def test_a_batch_of_grey_and_colour_crops_gets_three_channels():
    grey, colour = torch.full((1, 4, 4), 7, dtype=torch.uint8), torch.zeros((3, 4, 4), dtype=torch.uint8)
    images, labels = collate([(grey, 0), (colour, 1)])
    assert images.shape == (2, 3, 4, 4) and (images[0] == 7).all() and labels.tolist() == [0, 1]


AUGMENTED_RUN = ["--aa", "rand-m9-mstd0.5-inc1", "--reprob", "0.25", "--hflip", "0.5", "--crop", "rrc",
                 "--scale", "0.3,1", "--mixup", "0.8", "--cutmix", "1.0", "--smoothing", "0.1"]


@pytest.mark.parametrize("gpu_augment", ["--gpu-augment", "--no-gpu-augment"])
def test_an_augmented_run_resumed_mid_epoch_matches_an_uninterrupted_one(shard_dir, tmp_path, fast_args,
                                                                          gpu_augment):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = [*fast_args, *AUGMENTED_RUN, gpu_augment, "--data", str(shard_dir)]
    assert CliRunner().invoke(cli, ["pretrain", *args, "--output", str(straight)]).exit_code == 0
    result = CliRunner().invoke(cli, ["pretrain", *args, "--output", str(stopped), "--stop-after-steps", "3"])
    assert result.exit_code == 0 and "stopped at step 3" in result.output
    result = CliRunner().invoke(cli, ["pretrain", *args, "--output", str(stopped), "--resume", str(stopped)])
    assert result.exit_code == 0, result.output
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(stopped / "model.safetensors"))
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)
    on = gpu_augment == "--gpu-augment"
    assert json.loads((stopped / "run.json").read_text())["gpu_augment"] is on
    assert torch.load(stopped / "state.pt", weights_only=False)["gpu_augment"] is on


def test_finetune_on_an_image_folder_trains_with_gpu_augment(image_folder, tmp_path, fast_args, log_records):
    # the ImageFolder loader's batches of RandomResizedCrop crops, of unequal sizes, reach the device stage
    out = tmp_path / "ft"
    result = CliRunner().invoke(cli, ["finetune", "--data", str(image_folder), "--output", str(out), *fast_args,
                                      "--epochs", "1", "--crop", "rrc", "--scale", "0.3,1", "--gpu-augment"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["gpu_augment"] is True
    assert log_records(out, "epoch")[0]["batches"] > 0
