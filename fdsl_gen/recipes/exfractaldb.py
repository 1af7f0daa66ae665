"""ExFractalDB and MV-FractalDB (Kataoka et al., CVPR 2022): 3D IFS seen by cameras.

A category is a 3D IFS (rows a..l, p). Its instances are the rows of a
weight table that scale a..l in every map (145 rows by default). A group is
one instance: its point cloud is computed once, normalised, and drawn by
every camera of the group with white points on black. `exfractaldb` places
the cameras at random on a sphere; `mvfractaldb` uses the reference's 12
views around the Y axis. Instances are spread evenly over the weight table,
so a category of fewer images still sees every kind of variant.
"""
import os
from dataclasses import dataclass

import numpy as np

from fdsl_gen.errors import UserError
from fdsl_gen.formulas import ifs3d
from fdsl_gen.formulas.ifs_search import sequential_search
from fdsl_gen.params import first_category_files, read_system, read_table, write_system
from fdsl_gen.recipe import (MAX_CLASSES, MAX_POINTS, MAX_SAMPLES_PER_CLASS, MAX_SEED, MAX_SIZE, Recipe, Search,
                             derive_seed, option)
from fdsl_gen.recipes.fractaldb import csv_bytes
from fdsl_gen.registry import register_recipe, register_search

COLUMNS = 13
PARAMS = 12
INSTANCE_FACTORS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)
WEIGHT_TABLES = ("published", "corrected")
# The released weights_ins145.csv scales i by 0.6 in row 108 (a repeat of row
# 99) where the scheme gives 1.6; "published" keeps it, as the reference renders.
PUBLISHED_QUIRK = (108, 8, 0.6)
MV_VIEWS = 12
MV_START_DEGREES = 30.0
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


# ---------------------------------------------------------------- search

def draw_trial(rs, points):
    """One trial's system and chaos-game uniforms, drawn in the reference's order."""
    nmaps = rs.randint(2, 8)
    system = np.zeros((nmaps, COLUMNS))
    total = 0.0
    for m in range(nmaps):
        row = rs.uniform(-1.0, 1.0, PARAMS)
        prob = abs(np.linalg.det(row[:9].reshape(3, 3)))
        total += prob
        system[m, :PARAMS] = row
        system[m, PARAMS] = prob
    system[:, PARAMS] /= total
    return system, rs.random_sample(points)


def trial_variances(system, u):
    """Per-axis variance of the normalised cloud; NaN when it diverges or collapses."""
    points = ifs3d.point_cloud(system, u)
    return np.full(3, np.nan) if points is None else ifs3d.variances(points)


def search(categories, seed=1, variance=0.05, points=10_000, threads=1, on_accept=None):
    """The first `categories` systems whose cloud varies by more than `variance` on each axis.

    Returns ([(system, variances)], trials), whatever `threads` is.
    """
    return sequential_search(categories, seed, lambda rs: draw_trial(rs, points), trial_variances,
                             lambda found: bool((found > variance).all()), threads, on_accept)


@dataclass(frozen=True)
class ExFractalDBSearchConfig:
    categories: int = option(1000, "categories to find", low=1, high=MAX_CLASSES)
    variance: float = option(0.05, "minimum variance of the normalised cloud on each axis", low=0)
    points: int = option(10_000, "chaos-game uniforms per trial (the cloud keeps one less)", low=3, high=MAX_POINTS)


@register_search("exfractaldb")
class ExFractalDBSearch(Search):
    """The reference's 3D IFS search: 2..7 maps, p ~ |det|, per-axis variance test."""

    Config = ExFractalDBSearchConfig

    def run(self, out, threads, on_accept):
        """Write %05d.csv (N rows of a..l, p) per accepted category; returns the summary."""
        found = []

        def accept(index, system, variances, trials):
            write_system(out / f"{index:05d}.csv", system)
            found.append(variances.tolist())
            on_accept(index, system, variances, trials)

        _, trials = search(self.config.categories, self.seed, self.config.variance,
                           self.config.points, threads, accept)
        return {"trials": trials, "accept_rate": len(found) / trials, "variances": found}


# ---------------------------------------------------------------- parameters

def read_systems(folder, limit=0):
    """The first `limit` categories of a folder (all when 0), with their file names."""
    files = first_category_files(folder, limit)
    return [read_system(f, COLUMNS) for f in files], [f.name for f in files]


def read_weights(path):
    return read_table(path, PARAMS, "weight file")


# ---------------------------------------------------------------- recipes

@dataclass(frozen=True)
class ProjectedConfig:
    params: str = option("", "folder of category CSVs, 13 columns a..l,p (from `fdsl-gen search exfractaldb`)")
    search: bool = option(False, "search the categories first instead of reading --params")
    search_seed: int = option(1, "seed of the inline search", low=0, high=MAX_SEED)
    variance: float = option(0.05, "inline search: minimum per-axis variance", low=0)
    categories: int = option(0, "categories to use (0: all of --params; 1000 with --search)", low=0, high=MAX_CLASSES)
    images: int = option(1000, "images per category", low=1, high=MAX_SAMPLES_PER_CLASS)
    size: int = option(224, "image side in pixels", low=16, high=MAX_SIZE)
    points: int = option(10_000, "points of each instance's cloud", low=2, high=MAX_POINTS)
    point_size: int = option(1, "side of each drawn point in pixels", low=1, high=MAX_SIZE)
    weights: str = option("", "instance weight file (12 columns, one row per instance) instead of --weight-table")
    weight_table: str = option("published", "the 145 instance rows: weights_ins145.csv as released (row 108 "
                               "repeats 0.6) or corrected (1.6 there)", choices=WEIGHT_TABLES)
    fov: float = option(45.0, "vertical field of view in degrees", low=0, high=180)
    distance: float = option(4.0, "camera distance from the cloud's centre", low=0)


class ProjectedIFS(Recipe):
    """What both recipes share: categories, instances, clouds and drawing."""

    levels = (0, ifs3d.WHITE)
    bottom_up = False

    def __init__(self, config, seed, progress=None):
        super().__init__(config, seed, progress)
        _check(config)
        self.systems, self.names = _load_systems(config, progress)
        self.weights = read_weights(config.weights) if config.weights else instance_weights(config.weight_table)
        self.group_size = self.views_per_instance()
        if self.groups > len(self.weights):
            raise UserError(f"--images {config.images} needs {self.groups} instances of {self.group_size} "
                            f"views, the weight table has {len(self.weights)} rows")
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
    def samples_per_class(self):
        return self.config.images

    @property
    def groups(self):
        return -(-self.config.images // self.group_size)

    def instance_of(self, group):
        """Weight row of a group: evenly spread over the table, row 0 first."""
        return group * len(self.weights) // self.groups

    def render_group(self, cls, group):
        seed = self.group_seed(cls, group)
        rng = np.random.default_rng(seed)
        instance, points = self.cloud(cls, self.instance_of(group), rng.random(self.config.points + 1))
        cameras = self.cameras(rng)[:self.group_samples(group)]
        images = ifs3d.draw_views(points, cameras, self.config.size, self.config.point_size,
                                  self.config.fov, self.bottom_up)
        meta = {"category": cls, "instance": instance, "seed": seed}
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
        u = np.random.default_rng(derive_seed(self.seed, _CHECK)).random(self.config.points + 1)
        for cls, system in enumerate(self.systems):
            if ifs3d.point_cloud(system, u) is None:
                raise UserError(f"category {cls} ({self.names[cls]}): the system diverges or collapses to a "
                                "point (its normalised points are all NaN); remove it from --params")

    def describe(self):
        return dict(super().describe(), categories=self.num_classes, views_per_instance=self.group_size,
                    instances=self.groups, weight_rows=len(self.weights))

    def extra_files(self):
        files = {f"params/{i:05d}.csv": csv_bytes(s) for i, s in enumerate(self.systems)}
        files["params/weights.csv"] = csv_bytes(self.weights, fmt="%.12g")
        return files


def _camera_meta(camera, fov):
    return {"position": camera[0].tolist(), "up": camera[2].tolist(), "fov": fov}


@dataclass(frozen=True)
class ExFractalDBConfig(ProjectedConfig):
    views: int = option(0, "random views per instance (0: images / instances, rounded up)",
                        low=0, high=MAX_SAMPLES_PER_CLASS)


@register_recipe("exfractaldb")
class ExFractalDB(ProjectedIFS):
    """ExFractalDB: 3D fractals from random viewpoints (direction and roll uniform)."""

    Config = ExFractalDBConfig

    def views_per_instance(self):
        if self.config.views < 0:
            raise UserError("--views must not be negative")
        return self.config.views or -(-self.config.images // len(self.weights))

    def cameras(self, rng):
        """Positions uniform on the sphere of radius `distance`; an isotropic random
        "up" hint makes the roll about the viewing axis uniform too."""
        directions = rng.standard_normal((self.group_size, 3))
        hints = rng.standard_normal((self.group_size, 3))
        directions *= self.config.distance / np.linalg.norm(directions, axis=1, keepdims=True)
        return ifs3d.look_at(directions, hints)


@dataclass(frozen=True)
class MVFractalDBConfig(ProjectedConfig):
    compat: bool = option(False, "reproduce the reference: +-pi degree azimuth jitter, rows bottom-up")


@register_recipe("mvfractaldb")
class MVFractalDB(ProjectedIFS):
    """MV-FractalDB: 3D fractals from 12 fixed views around the Y axis."""

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


def _check(config):
    if config.point_size > config.size:
        raise UserError("--point-size must be between 1 and --size")
    if config.fov in (0.0, 180.0) or config.distance == 0.0:
        raise UserError("--fov must be strictly between 0 and 180 degrees and --distance positive")
    if config.search == bool(config.params):
        raise UserError("give either --params DIR or --search")


def _load_systems(config, progress):
    if config.params:
        return read_systems(config.params, config.categories)
    found, _ = search(config.categories or 1000, seed=config.search_seed, variance=config.variance,
                      threads=os.cpu_count() or 1, on_accept=progress)
    systems = [system for system, _ in found]
    return systems, [f"search seed {config.search_seed} #{i}" for i in range(len(systems))]
