"""The 3D IFS family (ExFractalDB, MV-FractalDB): 3D IFS seen by cameras.

A category is a 3D IFS (rows a..l, p). Its instances are the rows of a
weight table that scale a..l in every map (145 rows by default). A group is
one instance: its point cloud is computed once, normalised, and drawn by
every camera of the group with white points on black. `exfractaldb` places
the cameras at random on a sphere; `mvfractaldb` uses the reference's 12
views around the Y axis. Instances are spread evenly over the weight table,
so a category of fewer images still sees every kind of variant.
"""
import numpy as np

from fdsl_gen.errors import UserError
from fdsl_gen.formulas import ifs3d
from fdsl_gen.formulas.ifs_search import search3d
from fdsl_gen.params import csv_bytes, read_named_systems, read_weights, stored_category_options
from fdsl_gen.recipe import Recipe, derive_seed, generator

COLUMNS = 13  # a..l, p
PARAMS = 12
INSTANCE_FACTORS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)
# The released weights_ins145.csv scales i by 0.6 in row 108 (a repeat of row
# 99) where the scheme gives 1.6; "published" keeps it, as the reference renders.
PUBLISHED_QUIRK = (108, 8, 0.6)
_CHECK = 1  # derive_seed word of the uniforms that test a category at load


def instance_weights(table="published"):
    """The reference's 145-row table (weights_ins145.csv), in its order.

    Rows 0-12 scale a by 0.4, 0.5, ..., 1.6 (row 6 is all ones, the
    category's own system); then b..l in turn, 12 rows each, by the factors
    other than 1. `table="corrected"` has 1.6 in row 108 where the released
    file repeats 0.6.
    """
    a_factors = INSTANCE_FACTORS[:6] + (1.0,) + INSTANCE_FACTORS[6:]
    rows = [_scaled(0, factor) for factor in a_factors]
    rows += [_scaled(column, factor) for column in range(1, PARAMS) for factor in INSTANCE_FACTORS]
    weights = np.array(rows)
    if table == "published":
        row, column, factor = PUBLISHED_QUIRK
        weights[row, column] = factor
    return weights


def _scaled(column, factor):
    row = np.ones(PARAMS)
    row[column] = factor
    return row


def weighted(system, weights):
    """The system with a..l of every map scaled by one weight row (p unchanged)."""
    variant = system.copy()
    variant[:, :PARAMS] *= weights
    return variant


class ProjectedIFS(Recipe):
    """What both 3D recipes share: categories, instances, clouds and drawing; subclasses place the cameras."""

    levels = (0, ifs3d.WHITE)
    bottom_up = False

    def __init__(self, config, seed, progress=None, threads=1):
        super().__init__(config, seed, progress, threads)
        _check(config)
        self.systems, self.names = _load_systems(config, progress, threads)
        self.weights = (read_weights(config.weights, PARAMS) if config.weights
                        else instance_weights(config.weight_table))
        self.group_size = self.views_per_instance()
        if self.groups > len(self.weights):
            raise UserError(f"instances {config.instances} needs {self.groups} weight instances of {self.group_size} "
                            f"views, the weight table has {len(self.weights)} rows", options="instances")
        self._check_categories()

    def views_per_instance(self):
        raise NotImplementedError

    def cameras(self, rng):
        """(group_size, 4, 3) cameras (see ifs3d.look_at) of one group."""
        raise NotImplementedError

    @property
    def num_classes(self):
        return len(self.systems)

    @property
    def groups(self):
        return -(-self.config.instances // self.group_size)

    def instance_of(self, group):
        """Weight row of a group: evenly spread over the table, row 0 first."""
        return group * len(self.weights) // self.groups

    def render_group(self, cls, group):
        seed = self.group_seed(cls, group)
        rng = generator(seed)
        instance, points = self.cloud(cls, self.instance_of(group), rng.random(self.config.points + 1))
        cameras = self.cameras(rng)[:self.group_samples(group)]
        images = ifs3d.draw_views(points, cameras, self.config.size, self.config.point_size,
                                  self.config.fov, self.bottom_up)
        meta = {"category": cls, "instance": instance, "seed": str(seed)}
        return [(images[v], dict(meta, view=v, camera=_camera_meta(cameras[v], self.config.fov)))
                for v in range(len(cameras))]

    def cloud(self, cls, instance, u):
        """(instance, points) of the first usable instance from `instance` on.

        Some weight rows make a system diverge (about 0.3 % of them for
        searched categories); such an instance is replaced by the next row
        whose cloud is finite, and the sample's json names the row used.
        """
        rows = len(self.weights)
        for step in range(rows):
            row = (instance + step) % rows
            points = ifs3d.point_cloud(weighted(self.systems[cls], self.weights[row]), u)
            if points is not None:
                return row, points
        raise UserError(f"category {cls} ({self.names[cls]}): every instance diverges or collapses "
                        "(its points are all NaN)")

    def _check_categories(self):
        """Reject a category whose own system diverges or collapses, before any shard is written."""
        u = generator(derive_seed(self.seed, _CHECK)).random(self.config.points + 1)
        for cls, system in enumerate(self.systems):
            if ifs3d.point_cloud(system, u) is None:
                raise UserError(f"category {cls} ({self.names[cls]}): the system diverges or collapses to a "
                                "point (its normalised points are all NaN); remove it from params", options="params")

    dataset_options = staticmethod(stored_category_options)

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, views_per_instance=self.group_size,
                    weight_instances=self.groups, weight_rows=len(self.weights))

    def extra_files(self):
        files = {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}
        files["params/weights.csv"] = csv_bytes(self.weights, fmt="%.12g")
        return files


def _camera_meta(camera, fov):
    return {"position": camera[0].tolist(), "up": camera[2].tolist(), "fov": fov}


def _check(config):
    if config.point_size > config.size:
        raise UserError("point_size must be between 1 and size", options=("point_size", "size"))
    if config.fov in (0.0, 180.0) or config.distance == 0.0:
        raise UserError("fov must be strictly between 0 and 180 degrees and distance positive",
                        options=("fov", "distance"))
    if config.search == bool(config.params):
        raise UserError("give either params DIR or search", options=("params", "search"))


def _load_systems(config, progress, threads):
    """(systems, names) of --params, or of the 3D search run inline on `threads` threads."""
    if config.params:
        return read_named_systems(config.params, config.categories, COLUMNS)
    found, _ = search3d(config.categories or 1000, seed=config.search_seed, variance=config.variance,
                        threads=threads, on_accept=progress)
    systems = [system for system, _ in found]
    return systems, [f"search seed {config.search_seed} #{i}" for i in range(len(systems))]
