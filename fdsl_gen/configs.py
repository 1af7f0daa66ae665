"""The options of every recipe and search: one frozen dataclass each, one field per CLI option.

A field's metadata holds its help text, choices and bounds; `fdsl_gen.options`
parses a field's text by it, and `check_options` enforces the bounds when a
recipe or search is built. `DatasetOptions` are the options every recipe's
dataset has besides its config. This module imports no
kernel, so that listing recipes and their options (`--help`) is instant; the
registry (`fdsl_gen/recipes/__init__.py`) pairs each config with the class
that renders it. The docstring's first line is the command's summary.
"""
import dataclasses
from dataclasses import dataclass

from fdsl_gen import options

# Upper bounds that keep one image, one point cloud and one dataset plan in memory.
MAX_SIZE = 8192
MAX_POINTS = 10_000_000
MAX_CLASSES = 1_000_000
MAX_SAMPLES_PER_CLASS = 1_000_000
MAX_SEED = 2**63 - 1
MAX_SAMPLES_PER_SHARD = 100_000  # a shard is assembled in memory


def option(default, help, choices=None, low=None, high=None):
    """A config field that is also a CLI option (`--field-name`), valid in [low, high]."""
    meta = {"help": help, "low": low, "high": high}
    if choices:
        meta["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=meta)


def input_path(help):
    """A config field naming an input file or folder: its content, not its spelling, shapes the output."""
    return dataclasses.field(default="", metadata={"help": help, "low": None, "high": None, "path": True})


def path_fields(config):
    """Names of the fields of `config` that name input files."""
    return {field.name for field in dataclasses.fields(config) if field.metadata.get("path")}


def check_options(config, seed):
    """Raise UserError, naming the option, for the first value out of its declared bounds."""
    options.check_values(DatasetOptions, {"seed": seed})
    options.check_values(type(config), dataclasses.asdict(config))


@dataclass(frozen=True)
class DatasetOptions:
    """What every recipe's dataset has besides its config: `render_dataset`'s keywords, `fdsl-gen render`'s options."""
    seed: int = option(1, "run seed: same seed, same bytes", low=0, high=MAX_SEED)
    name: str = option(None, "dataset name (default: the recipe's)")
    samples_per_shard: int = option(1000, "images per shard file", low=1, high=MAX_SAMPLES_PER_SHARD)
    val_fraction: float = option(0.0, "share of each class's groups written to a separate validation split",
                                 low=0, high=1)


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


@dataclass(frozen=True)
class Real1PConfig:
    """Single real image: Canny edges of one photo, L transformed classes (LPCE)."""
    image: str = input_path("the photo (any format Pillow reads)")
    instances: int = option(1, "images per class: 1, the only value (a class's edge map is deterministic, "
                            "a second image would repeat it)", low=1, high=1)
    classes: int = option(1000, "perturbed copies L, one class each", low=1, high=MAX_CLASSES)
    delta: float = option(0.1, "each transform parameter is drawn in [-delta/2, delta/2]", low=0, high=2)
    transform: str = option("affine", "perturbation family", choices=("affine", "polynomial", "elastic"))
    elastic_grid: int = option(4, "elastic: control points per side of the displacement lattice", low=2, high=MAX_SIZE)
    canny_low: float = option(100.0, "Canny hysteresis: lower gradient threshold", low=0)
    canny_high: float = option(200.0, "Canny hysteresis: upper gradient threshold")
    size: int = option(512, "image side in pixels (the photo is centre-cropped square)", low=16, high=MAX_SIZE)


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


@dataclass(frozen=True)
class ContourConfig:
    """Options both contour recipes share (listed first in --help), with RCDB's values."""
    categories: int = option(1000, "categories (classes)", low=1, high=MAX_CLASSES)
    instances: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(512, "image side in pixels; lengths below are on a 512-px canvas and scale with it",
                       low=16, high=MAX_SIZE)
    gray_min: int = option(0, "darkest grey level of a polygon", low=0, high=255)
    gray_max: int = option(255, "brightest grey level of a polygon", low=0, high=255)
    noise: str = option("independent", "pnoise1 at uniform random positions, independent per vertex "
                        "(the reference), or smooth Perlin noise along the contour",
                        choices=("independent", "smooth"))
    smooth_cells: int = option(8, "smooth noise: Perlin cells once around the contour", low=1, high=MAX_SIZE)
    antialias: bool = option(False, "anti-aliased lines (the reference has none)")
    min_ink: float = option(0.25, "an image with fewer than min_ink x size changed pixels is blank "
                            "and drawn again (0: keep blank images, as the reference does)", low=0)
    retries: int = option(20, "re-draws of a blank image (and of a category whose first image stays blank)",
                          low=0, high=MAX_SAMPLES_PER_CLASS)
    vertices_min: int = option(3, "fewest vertices (the exponential is truncated to min..max)", low=3, high=MAX_POINTS)
    vertices_max: int = option(200, "most vertices", low=3, high=MAX_POINTS)
    noise_min: float = option(0.0, "noise spread c ~ U(noise-min, noise-max), per category", low=0)
    noise_max: float = option(4.0, "largest noise spread c")
    step_min: float = option(0.0, "outward step w ~ U(step-min, step-max), per category")
    step_max: float = option(0.1, "largest outward step w")
    radius_min: int = option(0, "start radius ~ randint(radius-min, radius-max), per instance", low=0)
    radius_max: int = option(100, "largest start radius")
    oval_min: float = option(1.0, "x and y stretch of the start polygon ~ U(oval-min, oval-max), per instance", low=0)
    oval_max: float = option(2.0, "largest stretch")
    offset: int = option(400, "centre = (512 + randint(-offset, offset)) / 2 on each axis, per instance",
                         low=0, high=MAX_SIZE)


@dataclass(frozen=True)
class RCDBConfig(ContourConfig):
    """RCDB: radial contours, grey 1-px polygons on white."""
    vertices_mean: float = option(100.0, "mean of the exponential the vertex count is drawn from", low=0)
    polygons_min: int = option(1, "fewest polygons per image", low=1, high=MAX_POINTS)
    polygons_max: int = option(200, "most polygons per image", low=1, high=MAX_POINTS)


@dataclass(frozen=True)
class VisualAtomConfig(ContourConfig):
    """VisualAtom: radial contours with sine-wave orbits, grey 1-px lines on black."""
    vertices_min: int = option(200, "vertices ~ randint(vertices-min, vertices-max), per category",
                               low=3, high=MAX_POINTS)
    vertices_max: int = option(1000, "most vertices", low=3, high=MAX_POINTS)
    orbits_min: int = option(1, "orbits (polygons) ~ randint(orbits-min, orbits-max), per category",
                             low=1, high=MAX_POINTS)
    orbits_max: int = option(200, "most orbits", low=1, high=MAX_POINTS)
    radius_min: int = option(10, "start radius ~ randint(radius-min, radius-max), per category", low=0)
    radius_max: int = option(60, "largest start radius")
    oval_min: float = option(1.0, "x and y stretch of the start polygon ~ U(oval-min, oval-max), per category", low=0)
    oval_max: float = option(2.0, "largest stretch")
    frequency_min: int = option(0, "wave frequencies n1, n2 ~ randint(frequency-min, frequency-max), "
                                "n2 != n1 unless n1 is 0", low=0)
    frequency_max: int = option(20, "highest wave frequency")
    offset: int = option(512, "centre = (512 + randint(-offset, offset)) / 2 on each axis, per instance",
                         low=0, high=MAX_SIZE)


@dataclass(frozen=True)
class PerlinConfig:
    """Perlin-noise categories (a noise field each), the FractalDB paper's noise baseline."""
    categories: int = option(1000, "categories (noise fields)", low=1, high=MAX_CLASSES)
    instances: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels (FractalDB's)", low=16, high=MAX_SIZE)
    frequency_min: float = option(1.0, "base frequency f ~ log-uniform(frequency-min, frequency-max) cells "
                                  "across the image, per category", low=0.01, high=MAX_SIZE)
    frequency_max: float = option(16.0, "highest base frequency", low=0.01, high=MAX_SIZE)
    octaves_min: int = option(1, "octaves ~ randint(octaves-min, octaves-max), per category", low=1, high=12)
    octaves_max: int = option(4, "most octaves", low=1, high=12)
    persistence_min: float = option(0.3, "amplitude ratio of successive octaves ~ U(min, max), per category",
                                    low=0, high=1)
    persistence_max: float = option(0.7, "largest persistence", low=0, high=1)
    shift: float = option(0.5, "instance window shift ~ U(0, shift) cells of the first octave, per axis", low=0)


@dataclass(frozen=True)
class BezierConfig:
    """Bezier-curve categories (a set of cubic curves each), the FractalDB paper's curve baseline."""
    categories: int = option(1000, "categories (sets of curves)", low=1, high=MAX_CLASSES)
    instances: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(362, "image side in pixels (FractalDB's)", low=16, high=MAX_SIZE)
    curves_min: int = option(1, "curves ~ randint(curves-min, curves-max), per category", low=1, high=1000)
    curves_max: int = option(4, "most curves", low=1, high=1000)
    margin: float = option(0.1, "control points ~ U(margin, 1 - margin) of the image side", low=0, high=0.49)
    jitter: float = option(0.02, "instance: each control point + N(0, jitter) of the image side", low=0)
    width: int = option(1, "stroke width in pixels", low=1, high=MAX_SIZE)
