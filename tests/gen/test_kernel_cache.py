"""numba kernels are compiled once: a second process loads every kernel it uses from the cache, without
numba's whole compiler set-up."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = """
import importlib, json, pkgutil, sys
from numba.core.registry import CPUDispatcher
import fdsl_gen.formulas
from fdsl_gen.cli import main

main(["render", "fractaldb", "--search", "--categories", "1", "--counts", "1", "--flips", "1", "--size", "32",
      "--points", "2000", "--quiet", "--workers", "1", "--out", sys.argv[1]], standalone_mode=False)
hits, misses, uncached = 0, 0, []
for info in pkgutil.iter_modules(fdsl_gen.formulas.__path__, "fdsl_gen.formulas."):
    for name, value in vars(importlib.import_module(info.name)).items():
        if isinstance(value, CPUDispatcher):
            hits += sum(value.stats.cache_hits.values())
            misses += sum(value.stats.cache_misses.values())
            if value.stats.cache_path is None:
                uncached.append(name)
print(json.dumps({"hits": hits, "misses": misses, "uncached": uncached,
                  "compiler_setup": "numba.np.polynomial.polynomial_functions" in sys.modules,
                  "array_methods": "numba.np.arraymath" in sys.modules}))
"""


def kernel_stats(out):
    result = subprocess.run([sys.executable, "-c", CHECK, str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_second_process_compiles_no_kernel(tmp_path):
    kernel_stats(tmp_path / "first")  # compiles whatever the cache does not hold yet
    second = kernel_stats(tmp_path / "second")
    assert second["uncached"] == []
    assert second["misses"] == 0
    assert second["hits"] >= 5  # chaos game, pixels, fill rate, patch masks, patches
    assert not second["compiler_setup"]  # numba's registries load only when something is compiled
    assert not second["array_methods"]  # their module imports scipy's BLAS; the kernels do without it


# After fdsl's kernels are loaded the light way, a kernel numba has to compile (one of the user's, with no
# cache) still finds every function numba implements: its compiler loads them itself.
COMPILE_AFTER_LOAD = """
import math, sys
import numpy as np
from fdsl_gen.formulas.jit import numba
from fdsl_gen.formulas.ifs2d import fill_rate

fill_rate(np.zeros(3, np.uint16), np.zeros(3, np.uint16), 4)
light = "numba.np.polynomial.polynomial_functions" not in sys.modules

@numba.njit
def fresh(values):
    return np.sum(np.sort(values)) + math.hypot(3.0, 4.0)

print(light, fresh(np.arange(4.0)))
"""


def test_a_kernel_compiled_after_a_light_load_finds_numbas_functions(tmp_path):
    kernel_stats(tmp_path / "warm")  # the cache holds fill_rate
    result = subprocess.run([sys.executable, "-c", COMPILE_AFTER_LOAD], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "11.0"]


FORMULAS = Path(__file__).resolve().parents[2] / "fdsl_gen" / "formulas"
KERNEL_MODULES = sorted(path.stem for path in FORMULAS.glob("*.py") if "numba.njit" in path.read_text())


@pytest.mark.parametrize("module", KERNEL_MODULES)
def test_every_kernel_module_loads_its_kernels_the_light_way(module):
    code = (f"import fdsl_gen.formulas.{module}; from numba.core.caching import Cache; "
            "print(Cache.load_overload.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["fdsl_gen.formulas.jit"]
