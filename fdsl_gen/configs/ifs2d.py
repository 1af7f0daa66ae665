"""The 2D IFS recipes: FractalDB, OFDB, 1p-frac."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SEED, MAX_SIZE, input_path, option


@dataclass(frozen=True)
class FractalDBConfig:
    """FractalDB: 2D IFS categories x weight variants x patch masks x flips (official recipe by default)."""
    params: str = input_path("folder of category CSVs (ours, or the official csv0..csvK layout)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search (1 gives the published set)", low=0, high=MAX_SEED)
    fill_rate: float = option(0.2, "inline search: minimum filling rate", low=0, high=1)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    instances: int = option(0, "images per category (0: weights x counts x flips)", low=0, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(200_000, "chaos-game points per image", low=2, high=MAX_POINTS)
    weight_k: float = option(0.4, "step k of the 25 weight rows (1 +- k, 1 +- 2k)")
    weights: str = input_path("weight file (official CSV, 6 columns) instead of --weight-k")
    counts: int = option(0, "patch-mask draws per weight (0: 10 for patch, 1 for point)",
                         low=0, high=MAX_SAMPLES_PER_CLASS)
    flips: int = option(4, "flips per canvas: as is, top-bottom, left-right, both", choices=(1, 2, 3, 4))
    draw: str = option("patch", "3x3 random patches (the official recipe) or single points",
                       choices=("patch", "point"))
    color: str = option("gray", "grey level 127 or the reference's hue cycle", choices=("gray", "color"))


@dataclass(frozen=True)
class OFDBConfig:
    """OFDB: one FractalDB image per category."""
    params: str = input_path("folder of category CSVs (ours, or the official csv0..csvK layout)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search (1 gives the published FractalDB set)",
                              low=0, high=MAX_SEED)
    fill_rate: float = option(0.2, "inline search: minimum filling rate", low=0, high=1)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    instances: int = option(1, "images per category (they differ by their patch masks)",
                            low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(200_000, "chaos-game points per image", low=2, high=MAX_POINTS)
    compat: bool = option(False, "reproduce the reference: scale `a` by weight row 0 (1 - 2k)")
    weight_k: float = option(0.4, "--compat: step k of the reference's weight file")


@dataclass(frozen=True)
class OnePFracConfig:
    """1p-frac: one sigma-factor fractal, L perturbed classes (LPCE)."""
    params: str = input_path("CSV of the base system (rows a,b,c,d,e,f,p) instead of sampling one")
    sigma: float = option(3.5, "target sigma-factor of the sampled base (drawn within +-0.1)")
    maps: int = option(2, "maps of the sampled base system", low=1, high=1000)
    classes: int = option(1000, "perturbed systems L, one class each", low=1, high=MAX_CLASSES)
    delta: float = option(0.1, "perturbation strength", low=0, high=1)
    perturb: str = option("mul", "a..f times U(1-delta, 1+delta) (reference code) or plus "
                          "U(-delta/2, delta/2) (paper)", choices=("mul", "add"))
    instances: int = option(1, "images per class (they differ by their patch masks)", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(512, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(100_000, "chaos-game points per image", low=2, high=MAX_POINTS)
    fill_rate: float = option(0.05, "a class whose image fills at most this share is drawn again", low=0, high=1)
    retries: int = option(1000, "re-draws allowed per class before giving up", low=0, high=MAX_SAMPLES_PER_CLASS)
