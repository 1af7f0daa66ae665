"""The projected 3D IFS recipes: ExFractalDB, MV-FractalDB."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SEED, MAX_SIZE, input_path, option


@dataclass(frozen=True)
class ProjectedConfig:
    """Options both 3D IFS recipes share."""
    params: str = input_path("folder of category CSVs, 13 columns a..l,p (from `fdsl-gen search exfractaldb`)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search", low=0, high=MAX_SEED)
    variance: float = option(0.05, "inline search: minimum per-axis variance", low=0)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    instances: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(224, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(10_000, "points of each instance's cloud", low=2, high=MAX_POINTS)
    point_size: int = option(1, "side of each drawn point in pixels", low=1, high=MAX_SIZE)
    weights: str = input_path("instance weight file (12 columns, one row per instance) instead of --weight-table")
    weight_table: str = option("published", "the 145 instance rows: weights_ins145.csv as released (row 108 "
                               "repeats 0.6) or corrected (1.6 there)", choices=("published", "corrected"))
    fov: float = option(45.0, "vertical field of view in degrees", low=0, high=180)
    distance: float = option(4.0, "camera distance from the cloud's centre", low=0)


@dataclass(frozen=True)
class ExFractalDBConfig(ProjectedConfig):
    """ExFractalDB: 3D fractals from random viewpoints (direction and roll uniform)."""
    views: int = option(0, "random views per weight instance (0: --instances / weight rows, rounded up)",
                        low=0, high=MAX_SAMPLES_PER_CLASS)


@dataclass(frozen=True)
class MVFractalDBConfig(ProjectedConfig):
    """MV-FractalDB: 3D fractals from 12 fixed views around the Y axis."""
    compat: bool = option(False, "reproduce the reference: +-pi degree azimuth jitter, rows bottom-up")
