"""The official repositories the benches compare against, each pinned at one commit.

A bench runs their scripts unchanged from checkouts under build/ (made by
bench/official/setup.py) and refuses a checkout at any other commit: a
figure is only evidence if anyone can rerun it against the same code.
"""
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build"  # checkouts, the venv and official.json; git-ignored
VENV = BUILD / "venv"
PYTHON = VENV / "bin" / "python"
RECORD = BUILD / "official.json"


@dataclass(frozen=True)
class Repo:
    github: str  # owner/name
    commit: str
    paper: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.github}"


REPOS = {
    "fractaldb": Repo("hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch",
                      "1b8fb9fe7a6f496d4a2acc4ae5e1c1ab1eab0608", "FractalDB (ACCV 2020, IJCV 2022)"),
    "cvpr2022": Repo("masora1030/CVPR2022-Pretrained-ViT-PyTorch",
                     "7a28054d682c4583f7122f5e9755b33db70cbdaf", "ExFractalDB and RCDB (CVPR 2022)"),
    "visualatom": Repo("masora1030/CVPR2023-FDSL-on-VisualAtom",
                       "de80c6972f99a57238633ba13b5a06a846272f30", "VisualAtom (CVPR 2023)"),
    "1p-frac": Repo("SUPER-TADORY/1p-frac", "413d3184b9e26ef6f81c19c03cabf4b6e0f4a629", "1p-frac (ECCV 2024)"),
    "catalys1": Repo("catalys1/fractal-pretraining", "b87adf280e96a981947599a3e0cc5875637d94cf",
                     "Improving Fractal Pre-training (WACV 2022)"),
}


def head(folder: Path) -> str:
    """The commit checked out in `folder`, or '' where it is no git checkout."""
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def edits(folder: Path) -> list:
    """Tracked files of the checkout `folder` that differ from its commit.

    A file deleted from the work tree counts, unless its content is absent
    from the clone itself: a snapshot mirror may leave out its largest files
    (figures), which no script runs.
    """
    status = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True).stdout.splitlines()
    changed = []
    for line in status:
        state, path = line[:2], line[3:]
        absent = subprocess.run(["git", "-C", str(folder), "cat-file", "-e", f"HEAD:{path}"],
                                capture_output=True).returncode != 0
        if not (state == " D" and absent):
            changed.append(path)
    return changed


def refusal(name: str, root: Path = BUILD) -> str:
    """Why the checkout of REPOS[name] under `root` may not be used ('' when it is at the pinned commit, unedited)."""
    repo, folder = REPOS[name], root / name
    found = head(folder)
    if not found:
        return f"official: no checkout of {repo.github} at {folder}: run `python bench/official/setup.py`"
    if found != repo.commit:
        return (f"official: {folder} is at commit {found[:12]}, not the pinned {repo.commit[:12]} of "
                f"{repo.github}: check out {repo.commit} or remove the folder and run `python bench/official/setup.py`")
    if edits(folder):
        return (f"official: {folder} has edited files (`git -C {folder} diff`): the benches run the "
                "official code unchanged")
    return ""


def checkout(name: str, root: Path = BUILD) -> Path:
    """The checkout of REPOS[name] under `root`, refused unless it is at the pinned commit and unedited."""
    reason = refusal(name, root)
    if reason:
        raise SystemExit(reason)
    return root / name
