"""VisualAtom (Takashima et al., CVPR 2023): radial contours with two sine waves per orbit.

A category fixes the vertices n, orbits P, noise spread c, outward step w,
start radius r0, oval stretch and two wave frequencies n1, n2; an instance
only moves the centre (and draws its own noise and grey levels). Each orbit
pushes vertex v outward by w - N with
N = c pnoise1 - c - 0.5 sin(n1 theta_v) - 0.5 sin(n2 theta_v), grey 1-px
lines on black. Seeding, scaling and blank checks are the contour family's
(fdsl_gen/families/contours.py).
"""
import numpy as np

from fdsl_gen.configs import VisualAtomConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.contours import ContourRecipe, centre, check_range, vertex_angles


class VisualAtom(ContourRecipe):
    """VisualAtom: radial contours with sine-wave orbits, grey 1-px lines on black."""

    name = "visualatom"
    Config = VisualAtomConfig
    background = 0
    amp_factor = 1.0

    def check(self, config):
        check_range(config.orbits_min, config.orbits_max, "orbits", least=1)
        check_range(config.frequency_min, config.frequency_max, "frequency", least=0)
        if 0 < config.frequency_min == config.frequency_max:
            raise UserError("frequency_min must be below frequency_max: n2 must differ from n1",
                            options=("frequency_min", "frequency_max"))

    def draw_category(self, rng):
        config = self.config
        params = {"vertices": int(rng.integers(config.vertices_min, config.vertices_max + 1)),
                  "polygons": int(rng.integers(config.orbits_min, config.orbits_max + 1)),
                  "c": float(rng.uniform(config.noise_min, config.noise_max)),
                  "w": float(rng.uniform(config.step_min, config.step_max)),
                  "radius": int(rng.integers(config.radius_min, config.radius_max + 1))}
        params["n1"], params["n2"] = frequencies(rng, config.frequency_min, config.frequency_max)
        params["oval_x"], params["oval_y"] = (float(v) for v in rng.uniform(config.oval_min, config.oval_max, 2))
        return params

    def draw_instance(self, params, rng):
        cx, cy = centre(rng, self.config.offset)
        angles = vertex_angles(params["vertices"])
        start_x = np.cos(angles) * params["radius"] * params["oval_x"]
        start_y = np.sin(angles) * params["radius"] * params["oval_y"]
        return start_x, start_y, cx, cy, {"cx": cx, "cy": cy}

    def offsets(self, params):
        angles = vertex_angles(params["vertices"])
        return (-params["c"] - 0.5 * np.sin(angles * params["n1"]) - 0.5 * np.sin(angles * params["n2"]))


def frequencies(rng, least, most):
    """n1, n2 ~ randint(least, most); n2 is drawn again while it equals a non-zero n1 (the reference's rule)."""
    n1 = int(rng.integers(least, most + 1))
    while True:
        n2 = int(rng.integers(least, most + 1))
        if n2 != n1 or n1 == 0:
            return n1, n2
