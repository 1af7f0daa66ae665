"""The noise and curve baselines: Perlin noise, Bezier curves."""
from dataclasses import dataclass

from fdsl_gen.configs import MAX_CLASSES, MAX_SAMPLES_PER_CLASS, MAX_SIZE, option


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
