"""Build what the official-code benches run: the repositories at their pinned commits and a venv of their own.

    python bench/official/setup.py [--mirror DIR] [--build DIR] [--python PYTHON]

For each repository of pins.REPOS it clones build/<name> (from GitHub, or
with --mirror from the bare copies DIR/<owner>+<name>/repo) and checks out
the pinned commit. A checkout already there at another commit, or with
edited files, is refused (one line, exit 2) and left where it is: a figure
is only evidence against the pinned code. Then build/venv gets exactly the
packages of requirements.txt (installed with --no-deps, so nothing floats),
and build/official.json records each commit, each package version and the
Python version, which the benches print. Their code is Python, run as is:
nothing of theirs is compiled or copied. A second run with everything in
place changes nothing and exits 0.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pins import BUILD, REPOS, head, refusal  # noqa: E402

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
# The imports a bench needs from the venv; a venv that cannot import them is rebuilt.
IMPORTS = "import numpy, PIL, noise, cv2, open3d, glm, pegl, plyfile, OpenGL.GL, matplotlib, numba"


TIMEOUT = 1800  # seconds for one clone, checkout or pip install


def fail(message, status=2):
    print(message, file=sys.stderr)
    sys.exit(status)


def run(command, **kwargs):
    # clones and installs read the network: a stalled one must end, not hang the build
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired:
        fail(f"official: `{' '.join(map(str, command[:4]))} ...` took more than {TIMEOUT} s", status=1)
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        fail(f"official: `{' '.join(map(str, command[:4]))} ...` failed: {last[0]}", status=1)
    return done.stdout


def source(name, mirror):
    """Where to clone REPOS[name] from: the bare copy under `mirror`, or GitHub."""
    repo = REPOS[name]
    if mirror is None:
        return repo.url
    bare = mirror / repo.github.replace("/", "+") / "repo"
    if not bare.is_dir():
        fail(f"official: no bare copy of {repo.github} at {bare}")
    return str(bare)


def check_existing(build):
    """Refuse (exit 2) the first checkout already under `build` that is not at its pinned commit, unedited."""
    for name in REPOS:
        folder = build / name
        if not folder.exists():
            continue
        if not head(folder):
            fail(f"official: {folder} exists and is no git checkout: remove it and run this script again")
        reason = refusal(name, build)
        if reason:
            fail(reason)


def clone(name, build, mirror):
    folder, commit = build / name, REPOS[name].commit
    print(f"official: cloning {REPOS[name].github} at {commit[:12]} into {folder}")
    run(["git", "clone", "--quiet", "--no-checkout", source(name, mirror), str(folder)])
    run(["git", "-C", str(folder), "-c", "advice.detachedHead=false", "checkout", "--quiet", commit])
    reason = refusal(name, build)
    if reason:
        fail(reason)


def pinned_packages():
    """{name: version} of requirements.txt."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    return pins


def installed(python):
    """{name: version} pip reports in the venv of `python`, or {} where it cannot import what the benches need."""
    if not python.exists() or subprocess.run([str(python), "-c", IMPORTS], capture_output=True).returncode:
        return {}
    frozen = run([str(python), "-m", "pip", "freeze", "--all"])
    return dict(line.split("==") for line in frozen.splitlines() if "==" in line)


def same_names(a, b):
    """`a` and `b` equal as {name: version} with names compared as pip does (case, - and _ alike)."""
    def norm(d):
        return {k.lower().replace("_", "-"): v for k, v in d.items()}
    na, nb = norm(a), norm(b)
    return all(nb.get(k) == v for k, v in na.items())


def build_venv(venv, python):
    """Create `venv` with the Python `python` and exactly the packages of requirements.txt."""
    version = run([python, "-c", "import sys; print((3, 8) <= sys.version_info[:2] <= (3, 11))"])
    if version.strip() != "True":
        fail(f"official: {python} is not Python 3.8 to 3.11 (numpy 1.23.5 has no wheels for newer ones): "
             "pass --python python3.11")
    print(f"official: building {venv} (about a minute)")
    run([python, "-m", "venv", "--clear", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(pip + ["--no-deps", "-r", str(REQUIREMENTS)])


def record(python):
    """build/official.json: the commits, package versions (checked equal to the pins) and Python version."""
    version = run([str(python), "-c", "import platform; print(platform.python_version())"]).strip()
    return {"python": version,
            "repos": {name: {"github": r.github, "commit": r.commit, "paper": r.paper} for name, r in REPOS.items()},
            "packages": pinned_packages()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, help="folder of bare copies <owner>+<name>/repo instead of GitHub")
    parser.add_argument("--build", type=Path, default=BUILD, help=f"where the checkouts and venv go (default {BUILD})")
    parser.add_argument("--python", default=sys.executable, help="Python 3.8-3.11 for the venv (default: this one)")
    args = parser.parse_args()
    build = args.build.resolve()
    build.mkdir(parents=True, exist_ok=True)
    check_existing(build)
    for name in REPOS:
        if not (build / name).exists():
            clone(name, build, args.mirror)
    venv = build / "venv"
    python = venv / "bin" / "python"
    packages = installed(python)
    if not same_names(pinned_packages(), packages):
        build_venv(venv, args.python)
        packages = installed(python)
        if not same_names(pinned_packages(), packages):
            fail(f"official: {venv} does not import what the benches need after installing {REQUIREMENTS.name}",
                 status=1)
    text = json.dumps(record(python), indent=1) + "\n"
    path = build / "official.json"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        print(f"official: wrote {path}")
    print(f"official: {len(REPOS)} checkouts at their pinned commits and {venv} in place")


if __name__ == "__main__":
    main()
