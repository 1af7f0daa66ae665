"""real1p: one photo's edge map, warped."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_SIZE, input_path, option


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
