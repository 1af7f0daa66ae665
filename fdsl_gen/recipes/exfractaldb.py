"""ExFractalDB (Kataoka et al., CVPR 2022): 3D fractals seen from random viewpoints.

A group is one instance (a weight row of the category's 3D IFS) drawn by
`--views` cameras placed uniformly on a sphere (see fdsl_gen/families/ifs3d.py).
"""
import numpy as np

from fdsl_gen.configs import ExFractalDBConfig
from fdsl_gen.errors import UserError
from fdsl_gen.families.ifs3d import ProjectedIFS
from fdsl_gen.formulas import ifs3d


class ExFractalDB(ProjectedIFS):
    """ExFractalDB: 3D fractals from random viewpoints (direction and roll uniform)."""

    name = "exfractaldb"
    Config = ExFractalDBConfig

    def views_per_instance(self):
        if self.config.views < 0:
            raise UserError("views must not be negative", options="views")
        return self.config.views or -(-self.config.instances // len(self.weights))

    def cameras(self, rng):
        """Positions uniform on the sphere of radius `distance`; an isotropic random
        "up" hint makes the roll about the viewing axis uniform too."""
        directions = rng.standard_normal((self.group_size, 3))
        hints = rng.standard_normal((self.group_size, 3))
        directions *= self.config.distance / np.linalg.norm(directions, axis=1, keepdims=True)
        return ifs3d.look_at(directions, hints)
