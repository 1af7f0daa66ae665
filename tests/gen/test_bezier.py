import numpy as np
from click.testing import CliRunner

from fdsl_gen.cli import main
from fdsl_gen.formulas import bezier
from fdsl_gen.configs import BezierConfig
from fdsl_gen.recipes.bezier import BezierCurves

TINY = ("--categories", 3, "--instances", 4, "--size", 32, "--samples-per-shard", 5, "--quiet")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def recipe(**changes):
    return BezierCurves(BezierConfig(**dict(dict(size=64, categories=6, instances=4), **changes)), seed=5)


def test_curve_passes_through_its_end_points_and_the_stroke_has_no_gaps():
    control = np.array([[0.1, 0.2], [0.9, 0.1], [0.1, 0.9], [0.8, 0.8]])
    assert bezier.point(control, 0.0) == (0.1, 0.2) and bezier.point(control, 1.0) == (0.8, 0.8)
    image = bezier.draw_curves(control[None], 100, 1)
    assert image[20, 10] == 255 and image[80, 80] == 255 and set(np.unique(image)) == {0, 255}
    # one 8-connected stroke: flood fill from one end reaches every lit pixel
    lit = {tuple(p) for p in np.argwhere(image)}
    seen, todo = {(20, 10)}, [(20, 10)]
    while todo:
        r, c = todo.pop()
        for step in ((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)):
            nxt = (r + step[0], c + step[1])
            if nxt in lit and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == lit


def test_wider_strokes_clip_at_the_border():
    control = np.array([[[-0.5, 0.51], [0.2, 0.51], [0.8, 0.51], [1.5, 0.51]]])  # row 20.4
    thin, wide = bezier.draw_curves(control, 40, 1), bezier.draw_curves(control, 40, 3)
    assert (thin.sum(axis=0) == 255).all() and (wide.sum(axis=0) == 3 * 255).all()


def test_images_are_white_on_black_and_a_pure_function_of_seed_class_and_instance():
    r = recipe()
    (image, meta), = r.render_group(1, 2)
    assert image.shape == (64, 64) and set(np.unique(image)) == {0, 255}
    assert np.array_equal(recipe().render_group(1, 2)[0][0], image)
    assert not np.array_equal(r.render_group(1, 3)[0][0], image)
    assert 0 < meta["curves"] <= 4 and meta["category"] == 1


def test_categories_separate_instances_are_jittered_copies():
    r = recipe()
    # 4x4 mean pooling: a jitter of a pixel or two keeps the strokes in the same cells
    images = np.array([r.render_group(c, j)[0][0] for c in range(6) for j in range(4)], float)
    pooled = images.reshape(24, 16, 4, 16, 4).mean(axis=(2, 4)).reshape(24, -1)
    labels = np.repeat(np.arange(6), 4)
    corr = np.corrcoef(pooled)
    same = labels[:, None] == labels[None, :]
    assert corr[same & ~np.eye(24, dtype=bool)].mean() > corr[~same].mean() + 0.3
    np.fill_diagonal(corr, -2)
    assert (labels[corr.argmax(axis=1)] == labels).mean() >= 0.9


def test_cli_shards_are_identical_for_any_number_of_workers_and_one_bit(tmp_path):
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert run("render", "bezier", "--out", out, "--workers", workers, *TINY).exit_code == 0
        outs.append(sorted(out.glob("bezier-train-*.tar")))
    assert len(outs[0]) == 3 and [t.read_bytes() for t in outs[0]] == [t.read_bytes() for t in outs[1]]


def test_an_empty_range_is_one_line_error(tmp_path):
    result = run("render", "bezier", "--curves-min", 5, "--curves-max", 2, "--out", tmp_path / "x", *TINY)
    assert result.exit_code == 2
    assert result.stderr.strip() == "fdsl-gen: error: --curves-min must not exceed --curves-max"
