"""MV-FractalDB (Kataoka et al., CVPR 2022): 3D fractals from 12 fixed views.

A group is one instance (a weight row of the category's 3D IFS) drawn from
12 azimuths around the Y axis (see fdsl_gen/families/ifs3d.py).
"""
import numpy as np

from fdsl_gen.configs import MVFractalDBConfig
from fdsl_gen.families.ifs3d import ProjectedIFS
from fdsl_gen.formulas import ifs3d

MV_VIEWS = 12
MV_START_DEGREES = 30.0


class MVFractalDB(ProjectedIFS):
    """MV-FractalDB: 3D fractals from 12 fixed views around the Y axis."""

    name = "mvfractaldb"
    Config = MVFractalDBConfig

    @property
    def bottom_up(self):
        return self.config.compat

    def views_per_instance(self):
        return MV_VIEWS

    def cameras(self, rng):
        """Azimuth 30 + 30 k degrees, camera on the XZ plane, Y up, as the reference's
        glm.rotate about Y; its jitter (radians() of a uniform in [-pi, pi],
        so +-3.14 degrees) only under --compat."""
        degrees = MV_START_DEGREES + 360.0 * np.arange(MV_VIEWS) / MV_VIEWS
        if self.config.compat:
            degrees = degrees + rng.uniform(-np.pi, np.pi, MV_VIEWS)
        angle = np.radians(degrees)
        positions = self.config.distance * np.stack([-np.cos(angle), np.zeros(MV_VIEWS), np.sin(angle)], axis=1)
        return ifs3d.look_at(positions, np.tile([0.0, 1.0, 0.0], (MV_VIEWS, 1)))
