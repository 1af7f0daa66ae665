"""Shared fixtures for the generator tests: run the real CLI in-process."""
import pytest
from click.testing import CliRunner

from fdsl_gen.cli import main
from helpers import HEAVY, SMALL


def run_cli(*args):
    """Invoke `fdsl-gen ARGS`; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def params_dir(tmp_path_factory):
    """Four categories of the official seed-1 search."""
    folder = tmp_path_factory.mktemp("params")
    result = run_cli("search", "fractaldb", "--categories", 4, "--out", folder, "--quiet")
    assert result.exit_code == 0, result.output
    return folder


def rendered(folder, params_dir, *options):
    """A FractalDB of `params_dir` rendered into a new `folder`/fractaldb."""
    out = folder / "fractaldb"
    result = run_cli("render", "fractaldb", "--params", params_dir, "--out", out, *options)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, params_dir):
    """A small FractalDB rendered once: 4 categories x 200 images."""
    return rendered(tmp_path_factory.mktemp("ds"), params_dir, "--workers", 1, *SMALL)


@pytest.fixture(scope="session")
def heavy_dataset(tmp_path_factory, params_dir):
    """The render kill tests interrupt, made whole once without a kill."""
    return rendered(tmp_path_factory.mktemp("heavy"), params_dir, "--workers", 2, *HEAVY)


@pytest.fixture(scope="session")
def param_folders(tmp_path_factory):
    """Two categories each of the 2D (fractaldb) and 3D (exfractaldb) searches, seed 1."""
    folders = {}
    for kind, search in (("ifs2d", "fractaldb"), ("ifs3d", "exfractaldb")):
        folders[kind] = tmp_path_factory.mktemp(kind)
        result = run_cli("search", search, "--categories", 2, "--out", folders[kind], "--quiet", "--workers", 1)
        assert result.exit_code == 0, result.output
    return folders
