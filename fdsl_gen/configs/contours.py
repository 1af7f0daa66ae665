"""The contour recipes: RCDB and VisualAtom."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SIZE, input_path, option


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
    params: str = input_path("folder of RCDB category CSVs (the official param/%05d.csv, rows key,value) instead "
                             "of drawing the categories: vertices, polygons, c and w from each file in name "
                             "order; radius, oval, centre, greys and noise are still drawn per image")


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
