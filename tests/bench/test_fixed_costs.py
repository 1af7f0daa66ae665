"""bench/fixed_costs.py: a small search's CPU seconds, stage by stage, adding up to the whole run."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_stages_of_a_small_search_add_up_to_its_run():
    result = subprocess.run([sys.executable, str(REPO / "bench" / "fixed_costs.py"), "--family", "search",
                             "--rounds", "3"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = dict(re.findall(r"^\| \**([^|*]+?)\** \| ([\d.]+) \|$", result.stdout, re.M))
    seconds = {stage: float(value) for stage, value in rows.items()}
    assert set(seconds) >= {"interpreter", "import recipe module (numba, kernels)", "kernel loads from the cache",
                            "render shards (search: trials)", "other", "total"}
    assert seconds["import recipe module (numba, kernels)"] > 0 and seconds["render shards (search: trials)"] > 0
    parts = sum(value for stage, value in seconds.items() if stage != "total")
    assert abs(parts - seconds["total"]) <= 0.0005 * len(seconds)  # one round's stages: they add up, to rounding
    assert abs(seconds["other"]) < 0.1 * seconds["total"]  # the named stages hold nearly all of the run


def test_a_folder_that_is_not_fdsl_is_refused_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench" / "fixed_costs.py"), "--family", "search",
                             "--trees", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert result.stderr.strip() == f"fixed_costs: not an fdsl checkout: {tmp_path}"
