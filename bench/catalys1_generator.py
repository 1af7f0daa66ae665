"""CPU seconds of catalys1/fractal-pretraining's IFSGenerator, run unchanged from its checkout.

A wrapper, not a copy: bench/live.py starts it with the official venv's
interpreter (the baseline's own numpy, numba and OpenCV) so that the
generator runs as its repository runs it. It imports the generator module
by its file, as the package's __init__ pulls in pytorch-lightning, which
the generator does not use. What the wrapper adds, and why:
- one thread (OpenCV's pool set to 1), as fdsl's side runs on one;
- seeded draws (the systems from `ifs.sample_system` with 2 to 4 maps, as
  its random search draws them, and the generator's own rng), where the
  repository leaves them unseeded, so that a rerun draws the same images;
- one untimed call first: numba compiles (or loads) its kernels there.
Prints one JSON line: images, CPU seconds (user + system of this process,
every thread) and wall seconds of the timed calls, and the versions of
Python, numpy, numba and OpenCV it ran under.

    PYTHON bench/catalys1_generator.py REPO [--images 100] [--size 224] [--niter 100000] [--seed 0]
"""
import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

GENERATOR = "fractal_learning/training/datamodule/datasets/generator.py"


def load_generator(repo: Path):
    """The IFSGenerator class and the `ifs` module of the checkout at `repo`."""
    sys.path.insert(0, str(repo))
    from fractal_learning.fractals import ifs  # the baseline's own package

    spec = importlib.util.spec_from_file_location("catalys1_generator", repo / GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.IFSGenerator, ifs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--niter", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not (args.repo / GENERATOR).is_file():
        raise SystemExit(f"catalys1_generator: {args.repo} holds no {GENERATOR}")
    import cv2
    import numba
    import numpy as np

    cv2.setNumThreads(1)
    generator_class, ifs = load_generator(args.repo)
    generator = generator_class(size=args.size, niter=args.niter)
    generator.rng = np.random.default_rng(args.seed)
    rng = np.random.default_rng(args.seed)
    systems = [ifs.sample_system((2, 5), rng=rng) for _ in range(args.images + 1)]
    generator(systems[0])  # compile or load the kernels, not timed
    wall, cpu = time.perf_counter(), time.process_time()
    for system in systems[1:]:
        generator(system)
    versions = {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
                "opencv": cv2.__version__}
    print(json.dumps({"images": args.images, "cpu_s": time.process_time() - cpu,
                      "wall_s": time.perf_counter() - wall, "versions": versions}))


if __name__ == "__main__":
    main()
