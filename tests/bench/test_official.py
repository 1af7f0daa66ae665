"""bench/official: the setup script refuses a checkout it did not pin, and pins.checkout accepts only the pinned one.

Throwaway git repositories in tmp_path stand in for the official checkouts;
nothing is cloned and no network is used.
"""
import subprocess
import sys
from pathlib import Path

import pytest

OFFICIAL = Path(__file__).resolve().parents[2] / "bench" / "official"
sys.path.insert(0, str(OFFICIAL))
import pins  # noqa: E402


def git(folder, *args):
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout.strip()


def throwaway_repo(folder):
    """A git repository with one committed script; returns its commit."""
    folder.mkdir(parents=True)
    git(folder, "init", "--quiet")
    (folder / "render.py").write_text("print('render')\n")
    git(folder, "add", "render.py")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "one")
    return git(folder, "rev-parse", "HEAD")


def setup_script(build):
    return subprocess.run([sys.executable, str(OFFICIAL / "setup.py"), "--build", str(build)],
                          capture_output=True, text=True, timeout=60)


def test_setup_refuses_a_checkout_at_another_commit(tmp_path):
    name = next(iter(pins.REPOS))
    found = throwaway_repo(tmp_path / name)
    done = setup_script(tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert found[:12] in lines[0] and pins.REPOS[name].commit[:12] in lines[0]
    assert git(tmp_path / name, "rev-parse", "HEAD") == found  # left where it was
    assert not (tmp_path / "venv").exists()


def test_setup_refuses_an_edited_checkout(tmp_path, monkeypatch):
    name = next(iter(pins.REPOS))
    commit = throwaway_repo(tmp_path / name)
    monkeypatch.setitem(pins.REPOS, name, pins.Repo("owner/name", commit, "paper"))
    (tmp_path / name / "render.py").write_text("print('faster')\n")
    with pytest.raises(SystemExit, match="edited files"):
        pins.checkout(name, tmp_path)
    assert "edited files" in pins.refusal(name, tmp_path)


def test_checkout_accepts_the_pinned_commit(tmp_path, monkeypatch):
    name = next(iter(pins.REPOS))
    commit = throwaway_repo(tmp_path / name)
    monkeypatch.setitem(pins.REPOS, name, pins.Repo("owner/name", commit, "paper"))
    (tmp_path / name / "out.png").write_bytes(b"")  # output files of a run are not edits
    assert pins.checkout(name, tmp_path) == tmp_path / name
    git(tmp_path / name, "rm", "--quiet", "render.py")
    assert pins.refusal(name, tmp_path)  # a deleted file whose content the clone holds is an edit


def test_setup_refuses_a_folder_that_is_no_checkout(tmp_path):
    name = next(iter(pins.REPOS))
    (tmp_path / name).mkdir()
    done = setup_script(tmp_path)
    assert done.returncode == 2 and "no git checkout" in done.stderr
