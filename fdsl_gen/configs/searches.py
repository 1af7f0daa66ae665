"""The parameter searches: FractalDB's and the 3D IFS one."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_POINTS, MAX_SIZE, option


@dataclass(frozen=True)
class FractalDBSearchConfig:
    """The official random search; seed 1 gives the published FractalDB set."""
    categories: int = option(1000, "categories to find", low=1, high=MAX_CLASSES)
    fill_rate: float = option(0.2, "minimum filling rate of a category's point image", low=0, high=1)
    points: int = option(100_000, "chaos-game points per trial", low=2, high=MAX_POINTS)
    size: int = option(512, "canvas side used for the filling rate", low=16, high=MAX_SIZE)
    max_trials: int = option(0, "stop with an error after this many trials (0: 2000 per category)", low=0)


@dataclass(frozen=True)
class ExFractalDBSearchConfig:
    """The reference's 3D IFS search: 2..7 maps, p ~ |det|, per-axis variance test."""
    categories: int = option(1000, "categories to find", low=1, high=MAX_CLASSES)
    variance: float = option(0.05, "minimum variance of the normalised cloud on each axis", low=0)
    points: int = option(10_000, "chaos-game uniforms per trial (the cloud keeps one less)", low=3, high=MAX_POINTS)
    max_trials: int = option(0, "stop with an error after this many trials (0: 2000 per category)", low=0)
